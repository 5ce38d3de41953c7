// `entra-sync export` piped as admins pipe it: read to the end, cut short by a reader that closes early, compressed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { loadSettings } from "../../src/config/settings";
import { createTables } from "../../src/compositionRoot";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";
import { populateSyncedStore, type PopulatedStore } from "../../standin/syncedStore";

const cli = resolve(__dirname, "../../src/cli/main.js");
const tenantId = "7e57a7e0-5ad1-4c3b-9d0e-57a4d1e5c0de";
/** The size: far beyond the 64 KiB a pipe buffers, so a cut or an unflushed end shows. */
const users = 20_000;

let azurite: AzuriteInstance;
let populated: PopulatedStore;
let environment: Record<string, string>;
/** A small store next to the large one, for what does not need the size. */
let small: PopulatedStore;
const smallPrefix = { TABLE_PREFIX: "small" };

before(async () => {
  azurite = await startAzurite({ inMemory: true });
  environment = { PATH: process.env.PATH ?? "", ENTRA_TENANT_ID: tenantId, DirectoryStorage: azurite.connectionString, TABLE_PREFIX: "export" };
  // Written straight into the tables in the documented schema: syncing 20,000 users through the engine would take minutes.
  populated = await populateSyncedStore(createTables(loadSettings(environment)), tenantId, { users, groups: 50, membershipsPerUser: 0 });
  small = await populateSyncedStore(createTables(loadSettings({ ...environment, ...smallPrefix })), tenantId, { users: 120, groups: 7, membershipsPerUser: 3 });
});
after(async () => azurite?.stop());

interface Piped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a bash pipeline with the CLI as "$NODE" "$CLI"; bash for PIPESTATUS, the exit code of export itself. */
function pipeline(script: string, extra: Record<string, string> = {}): Promise<Piped> {
  return new Promise((done, fail) => {
    const child = spawn("bash", ["--norc", "--noprofile", "-c", script], { env: { ...environment, ...extra, NODE: process.execPath, CLI: cli } });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", fail);
    child.once("close", (code, signal) => done({ code, signal, stdout: Buffer.concat(out), stderr }));
  });
}

describe("entra-sync export", () => {
  test("read to the end through gzip, the JSON is whole: every row of every table, columns named as in the tables", async () => {
    const result = await pipeline(`"$NODE" "$CLI" export | gzip -c`);
    assert.equal(result.code, 0, result.stderr);
    const text = gunzipSync(result.stdout).toString("utf8");
    assert.ok(text.length > 10 * 64 * 1024, "well past a pipe's buffer");
    const exported = JSON.parse(text) as Record<string, unknown> & { users: Array<Record<string, unknown>>; counts: Record<string, number> };
    assert.equal(exported.format, "entra-table-sync-export/2");
    assert.equal(exported.tenantId, tenantId);
    assert.equal(exported.users.length, users);
    assert.deepEqual(exported.counts, { users, groups: 50, devices: 0, members: 0 });
    const first = populated.userIds(0);
    const user = exported.users.find((row) => row.id === first);
    assert.deepEqual(
      { displayName: user?.displayName, userPrincipalName: user?.userPrincipalName, accountEnabled: user?.accountEnabled, deleted: user?.deleted, roles: user?.roles },
      { displayName: "User 0", userPrincipalName: "user0@contoso.example", accountEnabled: true, deleted: false, roles: "[]" },
    );
    for (const internal of ["gen", "hash", "partitionKey", "rowKey", "etag"]) assert.ok(!(internal in user!), `${internal} is not exported`);
  });

  test("a reader that closes early (head) gets what it asked for, and export exits non-zero with one line saying the output is incomplete", async () => {
    const result = await pipeline(`"$NODE" "$CLI" export --format ndjson | head -n 3; exit \${PIPESTATUS[0]}`);
    assert.equal(result.stdout.toString("utf8").trim().split("\n").length, 3);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.trim(), "export stopped: the program reading it closed the pipe before the end, so the output is incomplete.");
  });

  test("NDJSON: one record per line with its type, the header first and the counts last", async () => {
    const result = await pipeline(`"$NODE" "$CLI" export --format ndjson | cat`, smallPrefix);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.toString("utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual({ type: lines[0]!.type, format: lines[0]!.format, tenantId: lines[0]!.tenantId }, { type: "export", format: "entra-table-sync-export/2", tenantId });
    assert.deepEqual(lines.at(-1), { type: "end", counts: { users: 120, groups: 7, devices: 0, members: small.memberships } });
    const types = new Map<unknown, number>();
    for (const line of lines.slice(1, -1)) types.set(line.type, (types.get(line.type) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(types), { user: 120, group: 7, member: small.memberships });
    // A user's groups are on its record, as on its row; the engine's own columns are left out.
    const user = lines.find((line) => line.type === "user" && line.id === small.userIds(0))!;
    assert.deepEqual([JSON.parse(String(user.groups)).length, JSON.parse(String(user.directGroups)).length], [3, 3]);
    assert.ok(!("inactiveDirectGroups" in user) && !("groupsOverflow" in user));
    assert.deepEqual(Object.keys(lines.find((line) => line.type === "member")!).sort(), ["active", "groupId", "memberId", "memberType", "type"]);
    const group = lines.find((line) => line.type === "group" && line.id === small.groupIds[0]);
    assert.deepEqual({ displayName: group?.displayName, kind: group?.kind, securityEnabled: group?.securityEnabled }, { displayName: "Group 0", kind: "security", securityEnabled: true });
  });

  test("an unknown --format is refused before anything is written", async () => {
    const result = await pipeline(`"$NODE" "$CLI" export --format csv`);
    assert.equal(result.code, 2);
    assert.equal(result.stdout.length, 0);
    assert.match(result.stderr, /^--format must be one of json, ndjson, not "csv"\.$/m);
  });
});
