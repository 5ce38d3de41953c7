// `npm run bench:read`: the reader library's calls against Azurite, each beside a hand-written raw query for the same answer (the floor).
import { ClientSecretCredential } from "@azure/identity";
import { odata, TableClient, type TableServiceClientOptions } from "@azure/data-tables";

type PipelinePolicy = NonNullable<TableServiceClientOptions["additionalPolicies"]>[number]["policy"];
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadSettings } from "../src/config/settings";
import { compose } from "../src/compositionRoot";
import { createLogger } from "../src/logging/logger";
import { DirectoryReader } from "../src/reader";
import { objectEntity } from "../src/store/directoryEntities";
import type { DirectoryStore } from "../src/store/directoryStore";
import { tableKeys } from "../src/store/tableKeys";
import type { TableOperation } from "../src/store/tableWriter";
import { lookupDigest, lookupKeys, lookupValuesOf, userLookupOperations } from "../src/store/userLookup";
import { startAzurite } from "../standin/azuriteProcess";
import { DirectoryModel } from "../standin/directoryModel";
import { GraphStandIn } from "../standin/graphStandIn";
import { relaunchTrustingStandIn, standInCertDir } from "../standin/trustedRelaunch";

const benchClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };

function options() {
  const { values } = parseArgs({
    options: {
      "synced-users": { type: "string", default: "1000" },
      "extra-users": { type: "string", default: "20000" },
      "big-group-members": { type: "string", default: "10000" },
      iterations: { type: "string", default: "300" },
      concurrency: { type: "string", default: "16" },
      "page-size": { type: "string", default: "100" },
      out: { type: "string" },
    },
  });
  const number = (name: string, min: number) => {
    const parsed = Number(values[name as keyof typeof values]);
    if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be a whole number of at least ${min}`);
    return parsed;
  };
  const extraUsers = number("extra-users", 0);
  const bigGroupMembers = number("big-group-members", 10);
  if (bigGroupMembers > extraUsers) throw new Error("--big-group-members must be at most --extra-users: the big group's members are the extra users");
  return { syncedUsers: number("synced-users", 10), extraUsers, bigGroupMembers, iterations: number("iterations", 10), concurrency: number("concurrency", 1), pageSize: number("page-size", 1), out: values.out };
}

/** A deterministic, evenly spread GUID from a name and a number, so runs are comparable and partitions realistic. */
const guidOf = (prefix: string, n: number) => {
  const hex = createHash("sha256").update(`${prefix}:${n}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

interface Measured {
  p50: number;
  p99: number;
  opsPerSecond: number;
}

/** The reader and its raw floor, interleaved call by call (latency) and window by window (throughput), so a busy machine weighs on both alike. */
async function measurePair(reader: (i: number) => Promise<unknown>, raw: (i: number) => Promise<unknown>, iterations: number, concurrency: number): Promise<{ reader: Measured; raw: Measured }> {
  for (let i = 0; i < 10; i++) await Promise.all([reader(i), raw(i)]);
  const times = { reader: [] as number[], raw: [] as number[] };
  const timed = async (side: "reader" | "raw", call: (i: number) => Promise<unknown>, i: number) => {
    const started = process.hrtime.bigint();
    await call(i);
    times[side].push(Number(process.hrtime.bigint() - started) / 1e6);
  };
  for (let i = 0; i < iterations; i++) {
    // Alternate which goes first, so neither always meets a warmer cache.
    if (i % 2 === 0) await timed("reader", reader, i).then(() => timed("raw", raw, i));
    else await timed("raw", raw, i).then(() => timed("reader", reader, i));
  }
  const windows = 4;
  const elapsed = { reader: 0, raw: 0 };
  const run = async (side: "reader" | "raw", call: (i: number) => Promise<unknown>, count: number) => {
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) await call(next++); }));
    elapsed[side] += Date.now() - started;
  };
  const perWindow = Math.max(1, Math.floor(iterations / windows));
  for (let window = 0; window < windows; window++) {
    await run("raw", raw, perWindow);
    await run("reader", reader, perWindow);
  }
  const summary = (side: "reader" | "raw"): Measured => {
    const sorted = times[side].sort((a, b) => a - b);
    return { p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!, opsPerSecond: (perWindow * windows) / (elapsed[side] / 1000) };
  };
  return { reader: summary("reader"), raw: summary("raw") };
}

/** Users, a big group with three nested groups, and their Members, MemberOf, nesting and lookup rows, written straight into the store. */
async function populate(store: DirectoryStore, extraUsers: number, bigGroupMembers: number): Promise<{ bigGroup: string; userIds: string[]; mails: string[] }> {
  const tenantId = store.tenantId;
  const now = new Date().toISOString();
  const userIds: string[] = [];
  const mails: string[] = [];
  const userOps: TableOperation[] = [];
  const lookupOps: TableOperation[] = [];
  for (let n = 0; n < extraUsers; n++) userIds.push(guidOf("user", n));
  // The big group holds 40 % of its members directly; three nested groups hold the rest, overlapping a little.
  const bigGroup = guidOf("big", 1);
  const nested = [guidOf("nested", 1), guidOf("nested", 2), guidOf("nested", 3)];
  const groupLists = new Map<string, { groups: string; directGroups: string; inactiveDirectGroups: string; groupsOverflow: number }>();
  for (const child of nested) groupLists.set(child, { groups: JSON.stringify([bigGroup]), directGroups: JSON.stringify([bigGroup]), inactiveDirectGroups: "[]", groupsOverflow: 0 });
  const groupOps: TableOperation[] = [bigGroup, ...nested].map((id, index) => ({
    kind: "upsert",
    mode: "Replace",
    ...tableKeys.group(tenantId, id),
    properties: objectEntity(tenantId, "group", { displayName: index === 0 ? "Bench big group" : `Bench nested ${index}`, securityEnabled: true, mailEnabled: false, groupTypes: "[]" }, { deleted: false, deletedAt: undefined, generation: "bench", changedAt: now, memberGroups: groupLists.get(id) }),
  }));
  const memberOps: TableOperation[] = [];
  const listsOf = new Map<string, { groups: Set<string>; directGroups: Set<string> }>();
  const nestingOps: TableOperation[] = [];
  const direct = Math.floor(bigGroupMembers * 0.4);
  const perNested = Math.ceil((bigGroupMembers - direct) / nested.length);
  const addMember = (groupId: string, memberId: string, memberType: string) => memberOps.push({ kind: "upsert", mode: "Replace", ...tableKeys.member(tenantId, groupId, memberId), properties: { memberType, active: true, gen: "bench" } });
  for (const child of nested) {
    addMember(bigGroup, child, "group");
    nestingOps.push({ kind: "upsert", mode: "Replace", ...tableKeys.nesting(tenantId, child, bigGroup), properties: {} });
  }
  for (let n = 0; n < bigGroupMembers; n++) {
    const id = userIds[n]!;
    const groups: Array<{ groupId: string; direct: boolean }> = [];
    if (n < direct) groups.push({ groupId: bigGroup, direct: true });
    else {
      const child = nested[Math.floor((n - direct) / perNested)]!;
      groups.push({ groupId: child, direct: true }, { groupId: bigGroup, direct: false });
      // A few users sit in two nested groups, so the merge has duplicates to drop.
      if (n % 50 === 0) groups.push({ groupId: nested[(nested.indexOf(child) + 1) % nested.length]!, direct: true });
    }
    const lists = { groups: new Set<string>(), directGroups: new Set<string>() };
    for (const { groupId, direct: isDirect } of groups) {
      if (isDirect) addMember(groupId, id, "user");
      if (isDirect) lists.directGroups.add(groupId);
      lists.groups.add(groupId);
    }
    listsOf.set(id, lists);
  }
  // Each user's groups on its row, as the sync's closure leaves them.
  for (const [n, id] of userIds.entries()) {
    const mail = `bench.user.${n}@contoso.com`;
    const properties = { displayName: `Bench User ${n}`, givenName: "Bench", surname: `User ${n}`, userPrincipalName: mail, mail, accountEnabled: true, userType: "Member", jobTitle: "Engineer", department: "R&D", employeeId: String(500_000 + n) };
    mails.push(mail);
    const lists = listsOf.get(id);
    const memberGroups = lists && { groups: JSON.stringify([...lists.groups].sort()), directGroups: JSON.stringify([...lists.directGroups].sort()), inactiveDirectGroups: "[]", groupsOverflow: 0 };
    userOps.push({ kind: "upsert", mode: "Replace", ...tableKeys.user(tenantId, id), properties: objectEntity(tenantId, "user", properties, { deleted: false, deletedAt: undefined, generation: "bench", changedAt: now, memberGroups }) });
    lookupOps.push(...userLookupOperations(tenantId, id, undefined, lookupValuesOf({ properties, deleted: false })));
  }
  await Promise.all([store.apply("users", userOps), store.apply("userLookup", lookupOps), store.apply("groups", groupOps), store.apply("members", memberOps), store.apply("nesting", nestingOps)]);
  return { bigGroup, userIds, mails };
}

async function main(): Promise<void> {
  const relaunched = relaunchTrustingStandIn();
  if (relaunched !== undefined) process.exit(relaunched);
  const opts = options();
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const azurite = await startAzurite({ maxOldSpaceMb: 4096 });
  const standIn = await GraphStandIn.start({ certDir: standInCertDir, model: DirectoryModel.generate({ seed: 5, users: opts.syncedUsers, groups: Math.max(10, Math.floor(opts.syncedUsers / 25)) }) });
  try {
    const settings = loadSettings({ ENTRA_TENANT_ID: standIn.tenantId, ENTRA_CREDENTIAL_MODE: "managedIdentity", GRAPH_ENDPOINT: standIn.url, AUTHORITY_HOST: standIn.url, DirectoryStorage: azurite.connectionString, TABLE_PREFIX: "bench" });
    const credential = new ClientSecretCredential(settings.tenantId, benchClient.clientId, benchClient.clientSecret, { authorityHost: settings.authorityHost, disableInstanceDiscovery: true });
    const composition = compose(settings, { logger: createLogger(() => undefined, {}, "error"), credential, sleep: async () => undefined });
    let started = Date.now();
    const run = await composition.engine.run();
    if (run.summary.status !== "succeeded") throw new Error(`sync ${run.summary.status}: ${run.summary.error}`);
    const syncMs = Date.now() - started;
    console.log(`Synced ${opts.syncedUsers} users in ${syncMs} ms; writing ${opts.extraUsers} more directly`);
    started = Date.now();
    const { bigGroup, userIds, mails } = await populate(composition.store, opts.extraUsers, opts.bigGroupMembers);
    const populateMs = Date.now() - started;
    console.log(`Written in ${populateMs} ms; measuring`);
    const tenantId = settings.tenantId;
    // Requests each call sends, counted on both sides the same way.
    let requests = 0;
    const clientOptions = { additionalPolicies: [{ policy: { name: "countRequests", sendRequest: (request: Parameters<PipelinePolicy["sendRequest"]>[0], next: Parameters<PipelinePolicy["sendRequest"]>[1]) => (requests++, next(request)) }, position: "perCall" as const }] };
    const reader = new DirectoryReader({ tenantId, connectionString: azurite.connectionString, tablePrefix: settings.tablePrefix, clientOptions });
    const open = (name: string) => TableClient.fromConnectionString(azurite.connectionString, `${settings.tablePrefix}${name}`, { allowInsecureConnection: true, ...clientOptions });
    const raw = { users: open("Users"), lookup: open("UserLookup"), members: open("Members") };
    const pick = (i: number) => (i * 2_654_435_761) % userIds.length;
    const memberPick = (i: number) => (i * 2_654_435_761) % opts.bigGroupMembers;

    // Sanity: the reader answers what the raw queries answer, before anything is timed.
    const firstPage = await reader.listGroupMembers(bigGroup, { transitive: true, pageSize: opts.pageSize, memberTypes: ["user"] });
    if (firstPage.items.length !== opts.pageSize) throw new Error(`the big group's first page has ${firstPage.items.length} members`);

    const rawUser = (id: string) => raw.users.getEntity(tableKeys.user(tenantId, id).partitionKey, id);
    const rawByEmail = async (mail: string) => {
      const digest = lookupDigest(mail);
      const range = lookupKeys.range(tenantId, digest);
      const found: unknown[] = [];
      for await (const row of raw.lookup.listEntities<{ kinds?: string }>({ queryOptions: { filter: odata`PartitionKey eq ${range.partitionKey} and RowKey ge ${range.rowKeyFrom} and RowKey lt ${range.rowKeyTo}`, select: ["RowKey", "kinds"] } })) {
        if (String(row.kinds).split(" ").includes("mail")) found.push(await rawUser(String(row.rowKey).slice(65)));
      }
      return found;
    };
    // A user's groups are a column of its row: one point read, as a hand-written client makes it.
    const rawGroupsOf = async (id: string) => {
      const row = await raw.users.getEntity<Record<string, unknown>>(tableKeys.user(tenantId, id).partitionKey, id, { queryOptions: { select: ["groups", "deleted"] } });
      return row.deleted === true ? [] : (JSON.parse(String(row.groups ?? "[]")) as string[]);
    };
    const membersRange = (groupId: string) => odata`PartitionKey ge ${`${tenantId}_${groupId}_`} and PartitionKey lt ${`${tenantId}_${groupId}\``}`;
    // The raw floor of a transitive page: find the nested groups, read the first page of each, merge by id.
    const rawTransitivePage = async () => {
      // Nested groups at any depth, level by level, as a hand-written client must when it does not know the depth.
      const groups = [bigGroup];
      for (let level = [bigGroup]; level.length > 0; ) {
        const children = await Promise.all(
          level.map(async (groupId) => {
            const found: string[] = [];
            for await (const row of raw.members.listEntities({ queryOptions: { filter: membersRange(groupId) + odata` and memberType eq ${"group"} and active eq ${true}`, select: ["RowKey"] } })) found.push(String(row.rowKey));
            return found;
          }),
        );
        level = children.flat().filter((id) => !groups.includes(id));
        groups.push(...level);
      }
      const pages = await Promise.all(
        groups.map(async (groupId) => {
          for await (const page of raw.members.listEntities({ queryOptions: { filter: membersRange(groupId) + odata` and active eq ${true} and memberType eq ${"user"}`, select: ["RowKey"] } }).byPage({ maxPageSize: opts.pageSize })) return page.map((row) => String(row.rowKey));
          return [];
        }),
      );
      return [...new Set(pages.flat())].sort().slice(0, opts.pageSize);
    };

    const calls: Array<{ name: string; reader: (i: number) => Promise<unknown>; raw: (i: number) => Promise<unknown> }> = [
      { name: "user by id", reader: (i) => reader.getUser(userIds[pick(i)]!), raw: (i) => rawUser(userIds[pick(i)]!) },
      { name: "users by email", reader: (i) => reader.findUsersByEmail(mails[pick(i)]!), raw: (i) => rawByEmail(mails[pick(i)]!) },
      { name: "a user's transitive groups", reader: (i) => reader.listUserGroups(userIds[memberPick(i)]!), raw: (i) => rawGroupsOf(userIds[memberPick(i)]!) },
      { name: `page of ${opts.pageSize} of the ${opts.bigGroupMembers}-member group's transitive users`, reader: () => reader.listGroupMembers(bigGroup, { transitive: true, pageSize: opts.pageSize, memberTypes: ["user"] }), raw: () => rawTransitivePage() },
    ];
    const results: Array<{ call: string; reader: Measured; raw: Measured; ratioP50: number; readerRequests: number; rawRequests: number }> = [];
    const requestsOf = async (call: (i: number) => Promise<unknown>) => {
      const before = requests;
      await call(1);
      return requests - before;
    };
    for (const call of calls) {
      const [readerRequests, rawRequests] = [await requestsOf(call.reader), await requestsOf(call.raw)];
      const { reader: readerMeasured, raw: rawMeasured } = await measurePair(call.reader, call.raw, opts.iterations, opts.concurrency);
      console.log(`${call.name}: reader p50 ${readerMeasured.p50.toFixed(1)} ms, raw p50 ${rawMeasured.p50.toFixed(1)} ms`);
      results.push({ call: call.name, reader: readerMeasured, raw: rawMeasured, ratioP50: readerMeasured.p50 / rawMeasured.p50, readerRequests, rawRequests });
    }
    const users = opts.syncedUsers + opts.extraUsers;
    const record = { commit, at: new Date().toISOString(), node: process.version, cpus: cpus().length, users, syncedUsers: opts.syncedUsers, directUsers: opts.extraUsers, bigGroupMembers: opts.bigGroupMembers, iterations: opts.iterations, concurrency: opts.concurrency, syncMs, populateMs, results };
    const fmt = (value: number) => value.toFixed(value < 10 ? 2 : 0);
    console.log(`\nRead benchmark at ${users} users (${opts.syncedUsers} synced, ${opts.extraUsers} written directly), commit ${commit}; ${opts.iterations} calls each, throughput at concurrency ${opts.concurrency}\n`);
    console.log("| call | reader p50 ms | reader p99 ms | reader ops/s | reader requests | raw p50 ms | raw p99 ms | raw ops/s | raw requests | reader / raw (p50) |");
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    for (const result of results) console.log(`| ${result.call} | ${fmt(result.reader.p50)} | ${fmt(result.reader.p99)} | ${fmt(result.reader.opsPerSecond)} | ${result.readerRequests} | ${fmt(result.raw.p50)} | ${fmt(result.raw.p99)} | ${fmt(result.raw.opsPerSecond)} | ${result.rawRequests} | ${result.ratioP50.toFixed(2)}x |`);
    const out = opts.out ?? join(resolve(__dirname, "../../bench-results"), `read-${users}-${commit}.json`);
    mkdirSync(resolve(out, ".."), { recursive: true });
    writeFileSync(out, JSON.stringify(record, null, 2));
    console.log(`\nRecorded in ${out}`);
  } finally {
    await standIn.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
