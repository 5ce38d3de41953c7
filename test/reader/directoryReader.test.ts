// The reader library against a stand-in tenant synced by the real engine: every call compared with the model's ground truth, before and after churn.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TableClient, type TableServiceClientOptions } from "@azure/data-tables";
import type { Settings } from "../../src/config/settings";
import { DirectoryReader, InvalidReaderInputError, StoreSchemaError, lookupDigest, type DirectoryUser, type MemberType } from "../../src/reader";
import { ChangeFeed } from "../../src/service/changeFeed";
import { changesTableName } from "../../src/service/serviceStorage";
import { DirectoryModel, type ModelUser } from "../../standin/directoryModel";
import { maxIdsPerProperty } from "../../src/store/memberGroups";
import { tableKeys } from "../../src/store/tableKeys";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
let settings: Settings;
let changeFeed: ChangeFeed;
let reader: DirectoryReader;
/** Every request the reader sent, as "METHOD path?query", to show what a call costs. */
const requests: string[] = [];

const excluded = (user: ModelUser) => /^svc-/i.test(user.userPrincipalName) || /^svc-/i.test(user.mail ?? "");
/** Users the store must hold as active: alive in the model and inside the scope. */
const activeUsers = () => [...env.model.users.values()].filter((user) => !user.deleted && !excluded(user));
const isActive = (id: string): boolean => {
  const user = env.model.users.get(id);
  if (user) return !user.deleted && !excluded(user);
  const group = env.model.groups.get(id);
  if (group) return !group.deleted;
  return env.model.otherObjects.has(id);
};

/** The groups a member reaches through active groups (the model's ground truth), with whether it is a direct member. */
function expectedGroupsOf(memberId: string): Map<string, boolean> {
  const found = new Map<string, boolean>();
  if (!isActive(memberId)) return found;
  const queue: string[] = [];
  for (const groupId of env.model.memberOf(memberId)) {
    if (!isActive(groupId)) continue;
    found.set(groupId, true);
    queue.push(groupId);
  }
  while (queue.length > 0) {
    for (const parent of env.model.memberOf(queue.pop()!)) {
      if (!isActive(parent) || found.has(parent) || parent === memberId) continue;
      found.set(parent, false);
      queue.push(parent);
    }
  }
  found.delete(memberId);
  return found;
}

/** A group's active members, with nesting through active groups, each once and never the group itself. */
function expectedMembersOf(groupId: string, transitive: boolean): Map<string, { type: MemberType; direct: boolean }> {
  const found = new Map<string, { type: MemberType; direct: boolean }>();
  if (!isActive(groupId)) return found;
  const seen = new Set([groupId]);
  const queue = [groupId];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [memberId, type] of env.model.members.get(current) ?? []) {
      if (!isActive(memberId)) continue;
      if (memberId !== groupId && !found.has(memberId)) found.set(memberId, { type, direct: current === groupId });
      if (transitive && type === "group" && !seen.has(memberId)) {
        seen.add(memberId);
        queue.push(memberId);
      }
    }
  }
  return found;
}

function assertUserMatches(actual: DirectoryUser | undefined, expected: ModelUser): void {
  assert.ok(actual, `user ${expected.id} is found`);
  const pick = (user: Record<string, unknown>) =>
    Object.fromEntries(["id", "displayName", "givenName", "surname", "userPrincipalName", "mail", "accountEnabled", "userType", "jobTitle", "department", "employeeId"].map((name) => [name, user[name] ?? undefined]));
  assert.deepEqual(pick(actual as unknown as Record<string, unknown>), pick(expected as unknown as Record<string, unknown>));
  assert.equal(actual.deleted, false);
  assert.ok(Array.isArray(actual.roles));
}

async function allPages<T>(read: (token: string | undefined) => Promise<{ items: T[]; continuationToken: string | undefined }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await read(token);
    items.push(...page.items);
    token = page.continuationToken;
    pages++;
  } while (token !== undefined);
  return { items, pages };
}

async function sync(): Promise<void> {
  const run = await env.compose(settings, { changeSink: changeFeed }).engine.run();
  assert.equal(run.summary.status, "succeeded", run.summary.error);
}

/** Every call of the reader against the model, for every user and group. */
async function assertReaderMatchesModel(options: { lookupsOnly?: boolean } = {}): Promise<void> {
  const users = [...env.model.users.values()];
  await each(users, async (user) => {
    const stored = await reader.getUser(user.id);
    if (user.deleted || excluded(user)) assert.ok(stored === undefined || stored.deleted, `${user.userPrincipalName} is absent or marked deleted`);
    else assertUserMatches(stored, user);
  });
  // Lookups: case-insensitive, duplicates all found, nobody deleted or out of scope.
  const lookups = [
    ["mail", (value: string) => reader.findUsersByEmail(value)],
    ["userPrincipalName", (value: string) => reader.findUsersByUserPrincipalName(value)],
    ["employeeId", (value: string) => reader.findUsersByEmployeeId(value)],
  ] as const;
  for (const [property, find] of lookups) {
    const values = new Set(users.flatMap((user) => (user[property] ? [user[property]!] : [])));
    await each([...values], async (value) => {
      const expected = activeUsers().filter((user) => user[property]?.toLowerCase() === value.toLowerCase()).map((user) => user.id).sort();
      const found = (await find(value.toUpperCase())).map((user) => user.id).sort();
      assert.deepEqual(found, expected, `${property} ${value}`);
    });
  }
  if (options.lookupsOnly) return;
  const listed = await allPages((token) => reader.listUsers({ pageSize: 7, continuationToken: token }));
  assert.deepEqual(listed.items.map((user) => user.id).sort(), activeUsers().map((user) => user.id).sort(), "listUsers: every active user once");
  assert.ok(listed.pages > 3, "listUsers went across continuation tokens");
  await each([...env.model.groups.values()], async (group) => {
    const stored = await reader.getGroup(group.id);
    if (group.deleted) assert.ok(stored === undefined || stored.deleted);
    else {
      assert.equal(stored?.displayName, group.displayName);
      assert.deepEqual(stored?.groupTypes, group.groupTypes);
      assert.equal(stored?.securityEnabled, group.securityEnabled);
      assert.equal(stored?.description, group.description ?? undefined);
    }
    for (const transitive of [false, true]) {
      const expected = expectedMembersOf(group.id, transitive);
      const members = await allPages((token) => reader.listGroupMembers(group.id, { transitive, pageSize: 9, continuationToken: token }));
      assert.deepEqual(
        members.items.map((member) => `${member.id} ${member.memberType} ${member.direct}`),
        [...expected].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, member]) => `${id} ${member.type} ${member.direct}`),
        `members of ${group.displayName}, transitive ${transitive}`,
      );
      const usersOnly = await allPages((token) => reader.listGroupMembers(group.id, { transitive, memberTypes: ["user"], pageSize: 50, continuationToken: token }));
      assert.deepEqual(usersOnly.items.map((member) => member.id), [...expected].filter(([, member]) => member.type === "user").map(([id]) => id).sort());
    }
  });
  await each([...users.map((user) => user.id), ...env.model.groups.keys()], async (member) => {
    const expected = expectedGroupsOf(member);
    const transitive = await reader.listUserGroups(member);
    assert.deepEqual(transitive.map((row) => `${row.groupId} ${row.direct}`).sort(), [...expected].map(([id, direct]) => `${id} ${direct}`).sort(), `groups of ${member}`);
    const direct = await reader.listUserGroups(member, { transitive: false });
    assert.deepEqual(direct.map((row) => row.groupId).sort(), [...expected].filter(([, isDirect]) => isDirect).map(([id]) => id).sort());
  });
  // Membership checks and roles on a sample: every user against every group would be thousands of reads.
  const groups = [...env.model.groups.keys()];
  await each(users.slice(0, 6), async (user) => {
    const expected = expectedGroupsOf(user.id);
    await each(groups, async (groupId) => {
      assert.equal(await reader.isMember(user.id, groupId), expected.has(groupId), `isMember ${user.id} ${groupId}`);
      assert.equal(await reader.isMember(user.id, groupId, { transitive: false }), expected.get(groupId) === true);
    });
    const roles = await reader.getUserRoles(user.id);
    const expectedRoles = [...new Set([...expected.keys()].flatMap((groupId) => (groupId === groups[0] ? ["Admin"] : groupId === groups[3] ? ["Member"] : [])))].sort();
    assert.deepEqual(roles.sort(), expectedRoles, `roles of ${user.id}`);
  });
}

/** Runs the checks for each item at once: each is independent, and Azurite answers them in parallel. */
async function each<T>(items: readonly T[], check: (item: T) => Promise<void>): Promise<void> {
  await Promise.all(items.map(check));
}

before(async () => {
  const model = DirectoryModel.generate({ seed: 31, users: 50, groups: 10 });
  env = await startEnvironment({ model });
  const groups = [...model.groups.keys()];
  settings = env.settings({ USER_EXCLUDE_PATTERNS: "svc-*", DELETION_THRESHOLD_COUNT: "0", DELETION_THRESHOLD_PERCENT: "0", ROLE_MAPPING: JSON.stringify({ [groups[0]!]: "Admin", [groups[3]!]: "Member" }) });
  const changes = TableClient.fromConnectionString(env.azurite.connectionString, changesTableName(settings.tablePrefix), { allowInsecureConnection: true });
  await changes.createTable();
  changeFeed = new ChangeFeed(changes);
  const recorder: NonNullable<TableServiceClientOptions["additionalPolicies"]>[number]["policy"] = {
    name: "recordRequests",
    sendRequest: async (request, next) => {
      const url = new URL(request.url);
      requests.push(`${request.method} ${decodeURIComponent(url.pathname + url.search)}`);
      return next(request);
    },
  };
  reader = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix, clientOptions: { additionalPolicies: [{ policy: recorder, position: "perCall" }] } });
  // Duplicates, a guest, a name with an apostrophe and Unicode, and a user the scope leaves out.
  const [g0, g1] = [groups[0]!, groups[1]!];
  const first = model.createUser({ displayName: "Shared One", mail: "Shared.Mailbox@contoso.com", employeeId: "E-42" });
  const second = model.createUser({ displayName: "Shared Two", mail: "shared.mailbox@CONTOSO.com", employeeId: "e-42" });
  const zoe = model.createUser({ displayName: "Zoë O'Brien", mail: "zoë.o'brien@contoso.com", userPrincipalName: "zoe.obrien@contoso.com", employeeId: "Ø-7" });
  const service = model.createUser({ displayName: "Backup Service", userPrincipalName: "svc-backup@contoso.com", mail: "svc-backup@contoso.com" });
  for (const user of [first, second, zoe, service]) model.addMember(g1, user.id);
  model.addMember(g0, zoe.id);
});
after(async () => env?.stop());

describe("reader", () => {
  test("before any sync the reader says so, naming the schema version it reads", async () => {
    const fresh = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    await assert.rejects(fresh.getUser(activeUsers()[0]!.id), (error: unknown) => error instanceof StoreSchemaError && error.code === "notSynced" && /schema version 4/.test(error.message));
  });

  test("every call answers as the directory says: first sync, soft deletes, churn, renames of mail and UPN, restores", async () => {
    await sync();
    await assertReaderMatchesModel();

    // Soft-deleted users and a soft-deleted Microsoft 365 group, a user leaving the scope, churn, and a rename of mail and UPN.
    const model = env.model;
    const [leaving, softDeleted, renamed] = activeUsers().filter((user) => user.userType === "Member" && user.mail);
    model.softDeleteUser(softDeleted!.id);
    const m365 = [...model.groups.values()].find((group) => group.groupTypes.includes("Unified") && !group.deleted)!;
    model.deleteGroup(m365.id);
    model.updateUser(leaving!.id, { userPrincipalName: `svc-${leaving!.userPrincipalName}` });
    model.applyChurn(0.2, 99);
    const oldMail = renamed!.mail!;
    model.updateUser(renamed!.id, { mail: `Renamed.Person@Contoso.com`, userPrincipalName: "renamed.person@contoso.com" });
    await sync();
    await assertReaderMatchesModel();
    assert.deepEqual(await reader.findUsersByEmail(oldMail), [], "the old mail finds nobody");
    assert.deepEqual((await reader.findUsersByEmail("renamed.person@contoso.com")).map((user) => user.id), [renamed!.id]);
    assert.deepEqual(await reader.findUsersByUserPrincipalName(leaving!.userPrincipalName), [], "a user out of the scope is not found");
    const gone = await reader.getUser(leaving!.id);
    assert.equal(gone?.deletedReason, "outOfScope");

    // Restores: the user and the group come back, and so do their lookups and memberships.
    model.restoreUser(softDeleted!.id);
    model.restoreGroup(m365.id);
    await sync();
    await assertReaderMatchesModel();
    assert.equal((await reader.findUsersByEmail(softDeleted!.mail!)).length, 1);
  });

  test("a crash between the index writes and the user row loses nothing: the rerun leaves the index exact; a mail equal to the UPN shares its row", async () => {
    const user = activeUsers().find((candidate) => candidate.mail && candidate.mail === candidate.userPrincipalName && candidate.employeeId && candidate.userType === "Member")!;
    const [oldMail, newMail] = [user.mail!, `crash.${user.mail!}`];
    const rowsOf = async (id: string) => {
      const rows: string[] = [];
      for await (const row of env.compose(settings).tables.userLookup.listEntities<{ value: string; kinds: string }>()) {
        if (!row.rowKey!.endsWith(id)) continue;
        assert.equal(row.partitionKey, `${settings.tenantId}_${row.rowKey!.charAt(0)}`);
        rows.push(`${row.kinds} ${row.value}`);
      }
      return rows.sort();
    };
    assert.deepEqual(await rowsOf(user.id), [`employeeId ${user.employeeId!.toLowerCase()}`, `mail upn ${oldMail.toLowerCase()}`], "one row per distinct value");
    env.model.updateUser(user.id, { mail: newMail });
    const failing = env.compose(settings, { changeSink: changeFeed });
    const apply = failing.store.apply.bind(failing.store);
    failing.store.apply = async (table, operations) => {
      if (table === "users" && operations.length > 0) throw new Error("Table Storage unavailable (test)");
      return apply(table, operations);
    };
    const failed = await failing.engine.run();
    assert.equal(failed.summary.status, "failed");
    assert.deepEqual(await reader.findUsersByEmail(newMail), [], "the user row still says the old mail, so the new index row alone finds nobody");

    await sync();
    assert.deepEqual((await reader.findUsersByEmail(newMail)).map((found) => found.id), [user.id]);
    assert.deepEqual(await reader.findUsersByEmail(oldMail), []);
    assert.deepEqual((await reader.findUsersByUserPrincipalName(oldMail)).map((found) => found.id), [user.id]);
    assert.deepEqual(await rowsOf(user.id), [`employeeId ${user.employeeId!.toLowerCase()}`, `mail ${newMail.toLowerCase()}`, `upn ${user.userPrincipalName.toLowerCase()}`], "split in two, none left behind");
    env.model.updateUser(user.id, { mail: oldMail });
    await sync();
    assert.deepEqual(await rowsOf(user.id), [`employeeId ${user.employeeId!.toLowerCase()}`, `mail upn ${oldMail.toLowerCase()}`], "merged again");
    assert.deepEqual((await reader.findUsersByEmail(oldMail)).map((found) => found.id), [user.id]);
  });

  test("lookups cost one single-partition query and a point read per user found", async () => {
    const user = activeUsers().find((candidate) => candidate.mail)!;
    requests.length = 0;
    const found = await reader.findUsersByEmail(user.mail!);
    assert.equal(found.length, 1);
    const queries = requests.filter((request) => request.includes("UserLookup"));
    assert.equal(queries.length, 1, requests.join("\n"));
    assert.match(queries[0]!, /\$filter=PartitionKey eq '[0-9a-f-]{36}_[0-9a-f]' and RowKey ge '[0-9a-f]{64}_' and RowKey lt '[0-9a-f]{64}`'/);
    assert.equal(requests.filter((request) => request.includes("Users(")).length, 1, "one point read of the user");
    requests.length = 0;
    await reader.listUserGroups(user.id);
    assert.equal(requests.length, 1, "a user's groups in one query");
    // Zoë's mail is not her UPN: her row names only "mail", so a UPN lookup of it skips her without reading her row.
    requests.length = 0;
    assert.deepEqual(await reader.findUsersByUserPrincipalName("zoë.o'brien@contoso.com"), []);
    assert.equal(requests.filter((request) => request.includes("UserLookup")).length, 1);
    assert.deepEqual(requests.filter((request) => request.includes("Users(")), [], "no point read of a user holding the value only for another kind");
    assert.equal((await reader.findUsersByEmail("zoë.o'brien@contoso.com"))[0]?.displayName, "Zoë O'Brien");
  });

  test("bad input is refused before any request, or finds nobody: never a scan, never an injection", async () => {
    const user = activeUsers()[0]!;
    const [groupA, groupB] = [...env.model.groups.keys()];
    const page = await reader.listGroupMembers(groupA!, { pageSize: 1 });
    requests.length = 0;
    for (const id of ["not-a-guid", `${user.id}' or PartitionKey ne '`, "", "x".repeat(10_240), `${user.id} `, "ü".repeat(36)]) {
      await assert.rejects(reader.getUser(id), InvalidReaderInputError);
      await assert.rejects(reader.isMember(user.id, id), InvalidReaderInputError);
      await assert.rejects(reader.listGroupMembers(id), InvalidReaderInputError);
      await assert.rejects(reader.listUserGroups(id), InvalidReaderInputError);
      await assert.rejects(reader.getUserRoles(id), InvalidReaderInputError);
    }
    await assert.rejects(reader.findUsersByEmail("a".repeat(10_240)), /10240 characters long/);
    await assert.rejects(reader.findUsersByEmployeeId(""), InvalidReaderInputError);
    await assert.rejects(reader.listUsers({ continuationToken: "garbage" }), InvalidReaderInputError);
    await assert.rejects(reader.listUsers({ continuationToken: Buffer.from(JSON.stringify({ p: "other-tenant_00", r: user.id })).toString("base64url") }), InvalidReaderInputError);
    await assert.rejects(reader.listUsers({ pageSize: 0 }), InvalidReaderInputError);
    await assert.rejects(reader.listUsers({ pageSize: 1001 }), InvalidReaderInputError);
    await assert.rejects(reader.listGroupMembers(env.model.groups.keys().next().value!, { memberTypes: ["user' or 1 eq 1" as MemberType] }), InvalidReaderInputError);
    await assert.rejects(reader.listGroupMembers(groupB!, { continuationToken: page.continuationToken }), /this group's member listing/);
    const changes = reader.changes({ after: "not-a-cursor" })[Symbol.asyncIterator]();
    await assert.rejects(changes.next(), InvalidReaderInputError);
    assert.deepEqual(requests.filter((request) => !request.includes("SyncState")), [], "no refused call sent a request");

    // Hostile but well-formed values are looked up as values: one partition, nothing found, nothing escaped out of its quotes.
    for (const value of ["' or 1 eq 1 or ''='", "x') or (PartitionKey ne '", "\u0000\u202e#?/\\", "😀".repeat(300)]) {
      requests.length = 0;
      assert.deepEqual(await reader.findUsersByEmail(value), []);
      assert.equal(requests.length, 1);
      assert.match(requests[0]!, /\$filter=PartitionKey eq '[0-9a-f-]{36}_[0-9a-f]' and RowKey ge '[0-9a-f]{64}_' and RowKey lt '[0-9a-f]{64}`'$/);
    }
    // Quotes, apostrophes and Unicode in real values are found.
    assert.equal((await reader.findUsersByEmail("ZOË.O'BRIEN@contoso.com"))[0]?.displayName, "Zoë O'Brien");
    assert.equal((await reader.findUsersByEmployeeId("ø-7"))[0]?.displayName, "Zoë O'Brien");
    assert.equal((await reader.getUser(user.id.toUpperCase()))?.id, user.id, "an upper-case GUID is the same id");
  });

  test("the change feed resumes exactly after the stored cursor, across runs", async () => {
    const all: string[] = [];
    const cursors: string[] = [];
    for await (const change of reader.changes()) {
      all.push(`${change.kind} ${change.objectId} ${change.groupId ?? ""} ${change.at.toISOString()}`);
      cursors.push(change.cursor);
    }
    assert.ok(all.length > 20, `${all.length} changes recorded by the runs so far`);
    const stopAt = Math.floor(all.length / 2);
    const resumed: string[] = [];
    for await (const change of reader.changes({ after: cursors[stopAt - 1] })) resumed.push(`${change.kind} ${change.objectId} ${change.groupId ?? ""} ${change.at.toISOString()}`);
    assert.deepEqual(resumed, all.slice(stopAt), "the second half, nothing lost, nothing twice");

    const newcomer = env.model.createUser({ displayName: "Late Arrival" });
    await sync();
    const next: string[] = [];
    for await (const change of reader.changes({ after: cursors[cursors.length - 1] })) next.push(`${change.kind} ${change.objectId}`);
    assert.deepEqual(next, [`userCreated ${newcomer.id}`]);
    const last = await reader.lastSuccessfulSync();
    assert.ok(last && last.endedAt instanceof Date && Date.now() - last.endedAt.getTime() < 60_000, "the last successful sync is the one just run");
  });

  test("a store without the lookup index gets it on its next run; an unknown schema version is refused with both versions named", async () => {
    const tables = env.compose(settings).tables;
    for await (const row of tables.userLookup.listEntities()) await tables.userLookup.deleteEntity(row.partitionKey!, row.rowKey!);
    await tables.syncState.deleteEntity(settings.tenantId, "marker-schema");
    const stale = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    await assert.rejects(stale.findUsersByEmail("x@contoso.com"), (error: unknown) => error instanceof StoreSchemaError && error.storeVersion === undefined);
    await sync();
    await assertReaderMatchesModel({ lookupsOnly: true });

    await tables.syncState.upsertEntity({ partitionKey: settings.tenantId, rowKey: "marker-schema", value: "5" }, "Replace");
    const newer = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    await assert.rejects(newer.getUser(activeUsers()[0]!.id), (error: unknown) => {
      assert.ok(error instanceof StoreSchemaError);
      assert.equal(error.code, "unsupportedSchema");
      assert.match(error.message, /schema version 5; this reader reads schema version 4/);
      return true;
    });
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "failed");
    assert.match(run.summary.error ?? "", /schema version 5, newer than this sync's 4/);
    await tables.syncState.upsertEntity({ partitionKey: settings.tenantId, rowKey: "marker-schema", value: "4" }, "Replace");
  });

  test("a store of schema version 3 (one lookup row per kind) is refused by the reader; a run that fails mid-upgrade is repeated by the next, which leaves the index exact", async () => {
    const tables = env.compose(settings).tables;
    await sync();
    // Back to version 3's index: a row per kind in partitions `{tenant}_{kind}_{digit}`, and no kinds property.
    let merged = 0;
    for await (const row of tables.userLookup.listEntities<{ value: string; kinds: string }>()) {
      await tables.userLookup.deleteEntity(row.partitionKey!, row.rowKey!);
      const kinds = row.kinds.split(" ");
      if (kinds.length > 1) merged++;
      for (const kind of kinds) await tables.userLookup.upsertEntity({ partitionKey: `${settings.tenantId}_${kind}_${row.rowKey!.charAt(0)}`, rowKey: row.rowKey!, value: row.value }, "Replace");
    }
    assert.ok(merged > 10, `${merged} rows held one value for several kinds`);
    await tables.syncState.upsertEntity({ partitionKey: settings.tenantId, rowKey: "marker-schema", value: "3" }, "Replace");
    const older = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    await assert.rejects(older.findUsersByEmail("x@contoso.com"), (error: unknown) => error instanceof StoreSchemaError && error.storeVersion === 3 && /schema version 3; this reader reads schema version 4\. Upgrade the sync/.test(error.message));

    const failing = env.compose(settings, { changeSink: changeFeed });
    const apply = failing.store.apply.bind(failing.store);
    failing.store.apply = async (table, operations) => {
      if (table !== "userLookup") return apply(table, operations);
      await apply(table, operations.slice(0, Math.floor(operations.length / 2)));
      throw new Error("Table Storage unavailable (test)");
    };
    assert.equal((await failing.engine.run()).summary.status, "failed");
    const marker = await tables.syncState.getEntity<{ value: string }>(settings.tenantId, "marker-schema");
    assert.equal(marker.value, "3", "the version is recorded only once the index is whole");

    await sync();
    const rows: string[] = [];
    for await (const row of tables.userLookup.listEntities<{ value: string; kinds: string }>()) rows.push(`${row.partitionKey!.slice(settings.tenantId.length)} ${row.rowKey} ${row.kinds} ${row.value}`);
    const expected = activeUsers().flatMap((user) => {
      const byValue = new Map<string, string[]>();
      for (const [kind, value] of [["mail", user.mail], ["upn", user.userPrincipalName], ["employeeId", user.employeeId]] as const) if (value) byValue.set(value.toLowerCase(), [...(byValue.get(value.toLowerCase()) ?? []), kind]);
      return [...byValue].map(([value, kinds]) => `_${lookupDigest(value).charAt(0)} ${lookupDigest(value)}_${user.id} ${kinds.join(" ")} ${value}`);
    });
    assert.deepEqual(rows.sort(), expected.sort(), "exactly one row per distinct value per user, no per-kind row left");
    assert.equal((await tables.syncState.getEntity<{ value: string }>(settings.tenantId, "marker-schema")).value, "4");
    await assertReaderMatchesModel({ lookupsOnly: true });
  });

  test("a store of schema version 2 (entraMemberOf, no groups on the rows) is refused by the reader, then rebuilt by the next run and read again", async () => {
    const tables = env.compose(settings).tables;
    await sync();
    // Back to version 2's layout: every user's and group's lists gone from its row, a by-member row in entraMemberOf.
    for (const table of [tables.users, tables.groups]) {
      for await (const row of table.listEntities<Record<string, unknown>>()) {
        const { groups: _g, directGroups: _d, inactiveDirectGroups: _i, groupsOverflow: _o, etag: _e, timestamp: _t, ...rest } = row;
        await table.upsertEntity(rest as { partitionKey: string; rowKey: string }, "Replace");
      }
    }
    const [user] = activeUsers();
    await tables.legacyMemberOf.createTable();
    await tables.legacyMemberOf.upsertEntity({ ...tableKeys.legacyMemberOf(settings.tenantId, user!.id, user!.id), memberType: "user", active: true }, "Replace");
    await tables.syncState.upsertEntity({ partitionKey: settings.tenantId, rowKey: "marker-schema", value: "2" }, "Replace");
    const older = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    await assert.rejects(older.listUserGroups(user!.id), (error: unknown) => error instanceof StoreSchemaError && error.code === "unsupportedSchema" && error.storeVersion === 2 && /Upgrade the sync/.test(error.message));
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.equal(run.summary.streams.users.fullRead || run.summary.streams.groups.fullRead, false, "rebuilt from the Members table, no Graph full read");
    const left: unknown[] = [];
    for await (const row of tables.legacyMemberOf.listEntities()) left.push(row);
    assert.deepEqual(left, [], "entraMemberOf is emptied");
    await assertReaderMatchesModel();
  });

  test("a user in more groups than one property holds: the reader follows the overflow rows and returns every group", async () => {
    const [user] = activeUsers();
    const clubs = Array.from({ length: maxIdsPerProperty + 20 }, (_, index) => env.model.createGroup({ displayName: `Club ${index}` }).id);
    for (const groupId of clubs) env.model.addMember(groupId, user!.id);
    await sync();
    const key = tableKeys.user(settings.tenantId, user!.id);
    const row = await env.compose(settings).tables.users.getEntity<Record<string, unknown>>(key.partitionKey, key.rowKey);
    assert.ok(Number(row.groupsOverflow) > 0, "the lists moved to overflow rows");
    const reader = new DirectoryReader({ tenantId: settings.tenantId, connectionString: env.azurite.connectionString, tablePrefix: settings.tablePrefix });
    const groups = new Set((await reader.listUserGroups(user!.id)).map((membership) => membership.groupId));
    assert.ok(clubs.every((groupId) => groups.has(groupId)), `all ${clubs.length} clubs among ${groups.size} groups`);
    assert.equal(await reader.isMember(user!.id, clubs[clubs.length - 1]!, { transitive: false }), true);
    for (const groupId of clubs) env.model.removeMember(groupId, user!.id);
    await sync();
    assert.equal(await reader.isMember(user!.id, clubs[0]!), false);
  });
});
