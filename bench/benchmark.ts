// `npm run bench`: full, no-op and 1% churn syncs of a generated tenant against Azurite, each measured against the floor.
import { ClientSecretCredential } from "@azure/identity";
import { execFile, execFileSync, fork } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { promisify } from "node:util";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadSettings, type Settings } from "../src/config/settings";
import { compose, createGraphClient } from "../src/compositionRoot";
import { GraphDeltaReader, type DeltaCursor } from "../src/graph/graphDeltaReader";
import { emptyGraphMetrics } from "../src/graph/graphMetrics";
import { createLogger } from "../src/logging/logger";
import type { SyncRunSummary } from "../src/sync/syncRun";
import { startAzurite } from "../standin/azuriteProcess";
import { relaunchTrustingStandIn } from "../standin/trustedRelaunch";
import type { StandInCommand } from "./standInProcess";
import type { RowsChanged } from "../standin/expectedStore";
import type { WritesAgainstChanges } from "./storeDigest";

/** Azurite keeps every entity in memory: 2.1 million of them at 100,000 users need more than Node's default heap. */
const azuriteHeapMb = 16_384;

const benchClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };

interface PhaseResult {
  phase: string;
  wallMs: number;
  graphRequests: number;
  resourceUnits: number;
  throttled: number;
  tableTransactions: number;
  entitiesWritten: number;
  peakRssMb: number;
  status: string;
}

/** How the churn's really-changed rows are counted: by reading the store back, or from the model (the store equals it; tests check that). */
function churnTruthOf(value: string | undefined, users: number): "store" | "model" {
  if (value === undefined) return users > 20_000 ? "model" : "store";
  if (value === "store" || value === "model") return value;
  throw new Error(`--churn-truth must be store or model, not ${value}`);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "100000" },
      groups: { type: "string", default: "5000" },
      seed: { type: "string", default: "1" },
      latency: { type: "string", default: "0" },
      throttle: { type: "boolean", default: false },
      "throttle-quota": { type: "string" },
      churn: { type: "string", default: "0.01" },
      "churn-truth": { type: "string" },
      "memberships-per-user": { type: "string", default: "10" },
      out: { type: "string" },
      "skip-floor": { type: "boolean", default: false },
      "write-concurrency": { type: "string", default: "16" },
      "write-buffer": { type: "string" },
      // Well past where Azurite stops getting faster on two cores.
      "floor-concurrency": { type: "string", default: "32" },
      help: { type: "boolean", default: false },
    },
  });
  const number = (name: string, value: string, min: number) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min) throw new Error(`--${name} must be a number of at least ${min}, such as ${min === 0 ? 100 : 10000}`);
    return parsed;
  };
  return {
    help: values.help,
    users: number("users", values.users, 1),
    groups: number("groups", values.groups, 1),
    seed: number("seed", values.seed, 0),
    latencyMs: number("latency", values.latency, 0),
    throttle: values.throttle || values["throttle-quota"] !== undefined,
    throttleQuota: values["throttle-quota"] === undefined ? undefined : number("throttle-quota", values["throttle-quota"], 1),
    churn: number("churn", values.churn, 0),
    churnTruth: churnTruthOf(values["churn-truth"], number("users", values.users, 1)),
    membershipsPerUser: number("memberships-per-user", values["memberships-per-user"], 0),
    out: values.out,
    skipFloor: values["skip-floor"],
    writeConcurrency: number("write-concurrency", values["write-concurrency"], 1),
    floorConcurrency: number("floor-concurrency", values["floor-concurrency"], 1),
    writeBufferOperations: values["write-buffer"] === undefined ? undefined : number("write-buffer", values["write-buffer"], 100),
  };
}

/** The commit measured, with "+changes" when the work tree differs from it; undefined outside a git checkout. */
function commitOf(): string | undefined {
  try {
    const run = (...args: string[]) => execFileSync("git", args, { cwd: __dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return `${run("rev-parse", "--short", "HEAD")}${run("status", "--porcelain", "--untracked-files=no") ? "+changes" : ""}`;
  } catch {
    return undefined;
  }
}

/** Resident memory and the JavaScript heap in use, for progress lines: RSS over heap is what the GC has not returned yet. */
function memoryNow(): string {
  const { rss, heapUsed } = process.memoryUsage();
  return `rss ${Math.round(rss / 1048576)} MB, heap ${Math.round(heapUsed / 1048576)} MB`;
}

/** Samples resident memory while a phase runs; the process-wide maximum would carry one phase's peak into the next. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; wallMs: number; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const started = Date.now();
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, wallMs: Date.now() - started, peakRssMb: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(sampler);
  }
}

function phaseOf(phase: string, summary: SyncRunSummary, wallMs: number, peakRssMb: number): PhaseResult {
  return {
    phase,
    wallMs,
    graphRequests: summary.graph.requests,
    resourceUnits: summary.graph.resourceUnits,
    throttled: summary.graph.throttled,
    tableTransactions: summary.directoryWrites.transactions,
    entitiesWritten: summary.directoryWrites.entitiesWritten + summary.directoryWrites.entitiesDeleted,
    peakRssMb,
    status: summary.status,
  };
}

/** The read floor: both delta streams read to the end, concurrently, doing nothing with the pages. */
async function rawRead(settings: Settings, credential: ClientSecretCredential): Promise<{ requests: number }> {
  const metrics = emptyGraphMetrics();
  const reader = new GraphDeltaReader(createGraphClient(credential, settings.graphEndpoint), settings.graphEndpoint, metrics);
  await Promise.all(
    (["users", "groups"] as const).map(async (stream) => {
      let cursor: DeltaCursor = { kind: "initial" };
      for (;;) {
        const page = await reader.readPage(stream, cursor);
        if (!page.nextLink) return;
        cursor = { kind: "link", url: page.nextLink };
      }
    }),
  );
  return { requests: metrics.requests };
}


async function main(): Promise<number> {
  const options = parseOptions();
  if (options.help) {
    process.stdout.write("Usage: npm run bench -- [--users 100000] [--groups 5000] [--seed 1] [--latency MS] [--throttle] [--throttle-quota RU] [--churn 0.01] [--memberships-per-user 10] [--write-concurrency 16] [--write-buffer OPERATIONS] [--floor-concurrency 32] [--out FILE] [--skip-floor]\n");
    return 0;
  }
  const relaunched = relaunchTrustingStandIn();
  if (relaunched !== undefined) return relaunched;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const commit = commitOf();
  log(`Benchmark at commit ${commit ?? "unknown"}: ${options.users} users, ${options.groups} groups, seed ${options.seed}, latency ${options.latencyMs} ms${options.throttle ? `, throttling on (${options.throttleQuota ?? "documented"} RU per 10 s)` : ""}`);

  const standInProcess = fork(resolve(__dirname, "standInProcess.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: ["--max-old-space-size=8192"] });
  let nextId = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  standInProcess.on("message", (message: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.result);
  });
  const ask = <T>(command: StandInCommand): Promise<T> =>
    new Promise((resolvePromise, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolvePromise as (value: unknown) => void, reject });
      standInProcess.send({ id, command });
    });

  // The engine's Azurite and the floor's get the same large heap, so neither runs short of memory.
  const azuriteOptions = { maxOldSpaceMb: azuriteHeapMb };
  let azurite = await startAzurite(azuriteOptions);
  try {
    const tenant = await ask<{ url: string; tenantId: string; users: number; groups: number; memberships: number; generatedMs: number }>({
      type: "start",
      users: options.users,
      groups: options.groups,
      seed: options.seed,
      latencyMs: options.latencyMs,
      membershipsPerUser: options.membershipsPerUser,
    });
    log(`  tenant generated in ${tenant.generatedMs} ms: ${tenant.users} users, ${tenant.groups} groups, ${tenant.memberships} direct memberships`);
    if (options.throttle) await ask({ type: "quota", quota: options.throttleQuota ?? "documented" });
    const settingsFor = (prefix: string) =>
      loadSettings({ ENTRA_TENANT_ID: tenant.tenantId, GRAPH_ENDPOINT: tenant.url, AUTHORITY_HOST: tenant.url, DirectoryStorage: azurite.connectionString, TABLE_PREFIX: prefix, SYNC_WRITE_CONCURRENCY: String(options.writeConcurrency) });
    const settings = settingsFor("bench");
    const credential = new ClientSecretCredential(settings.tenantId, benchClient.clientId, benchClient.clientSecret, { authorityHost: tenant.url, disableInstanceDiscovery: true });
    let lastProgress = 0;
    const composition = () =>
      compose(settings, {
        logger: createLogger((_level, message) => log(`    ${new Date().toISOString().slice(11, 19)} ${message} (${memoryNow()})`)),
        credential,
        writeBufferOperations: options.writeBufferOperations,
        onProgress: (progress) => {
          if (Date.now() - lastProgress < 2000) return;
          lastProgress = Date.now();
          log(`    ${progress.stream}: ${progress.pages} pages, ${progress.objects} objects, ${Math.round(progress.objectsPerSecond)}/s, ${memoryNow()}`);
        },
      });

    const phases: PhaseResult[] = [];
    /** Operations each phase sent, by table: the full sync's against the minimal floor of one entity per user, group and direct membership. */
    const writesByPhase = new Map<string, Record<string, number>>();
    // The full sync's writes are recorded, so the write floor can replay its final entities without reading a million rows back (Azurite sorts the whole table for every page of a query).
    const recordingDir = mkdtempSync(join(tmpdir(), "bench-floor-"));
    const recordingPath = join(recordingDir, "writes.jsonl");
    const runPhase = async (phase: string, recordTo?: string) => {
      log(`  ${phase}…`);
      // Written synchronously, a thousand operations at a time: a stream would queue a whole flush's lines in the heap being measured.
      const recording = recordTo === undefined ? undefined : openSync(recordTo, "w");
      const byTable: Record<string, number> = {};
      writesByPhase.set(phase, byTable);
      const engineOf = () => {
        const composed = composition();
        const counted = composed.store.apply.bind(composed.store);
        composed.store.apply = async (table, operations) => {
          byTable[table] = (byTable[table] ?? 0) + operations.length;
          await counted(table, operations);
        };
        if (recording !== undefined) {
          const apply = composed.store.apply.bind(composed.store);
          composed.store.apply = async (table, operations) => {
            for (let start = 0; start < operations.length; start += 1000) {
              writeSync(recording, operations.slice(start, start + 1000).map((operation) => `${table}\t${JSON.stringify(operation)}\n`).join(""));
            }
            await apply(table, operations);
          };
        }
        return composed.engine;
      };
      const { result, wallMs, peakRssMb } = await measured(() => engineOf().run({ trigger: "cli" }));
      if (recording !== undefined) closeSync(recording);
      const row = phaseOf(phase, result.summary, wallMs, peakRssMb);
      phases.push(row);
      log(`  ${phase}: ${row.status} in ${(wallMs / 1000).toFixed(1)} s, ${row.graphRequests} Graph requests, ${row.entitiesWritten} entities written`);
      return result.summary;
    };
    await runPhase("full sync", options.skipFloor ? undefined : recordingPath);
    await runPhase("no-op incremental");
    // The model's view is taken before the churn changes it; the store's, before the churn run reads it.
    if (options.churnTruth === "model") {
      log("  computing the rows the model implies before the churn…");
      await ask({ type: "expected-snapshot" });
    }
    const churn = await ask<Record<string, number>>({ type: "churn", fraction: options.churn, seed: options.seed + 1 });
    log(`  churn applied: ${JSON.stringify(churn)}`);
    let rowsChanged: RowsChanged & { writes?: Record<string, WritesAgainstChanges> };
    let churnSummary: SyncRunSummary;
    if (options.churnTruth === "store") {
      // Rows that really changed are counted by diffing digests of every directory row, taken in another process.
      const digestDir = mkdtempSync(join(tmpdir(), "bench-digest-"));
      const digest = (...args: string[]) => promisify(execFile)(process.execPath, ["--max-old-space-size=8192", resolve(__dirname, "storeDigest.js"), ...args], { maxBuffer: 1 << 20 });
      log("  digesting the store before the churn run…");
      await digest("snapshot", azurite.connectionString, settings.tablePrefix, join(digestDir, "before"));
      // The churn run's writes are recorded too, so each table's writes can be set against its changed rows.
      churnSummary = await runPhase(`${options.churn * 100}% churn incremental`, join(digestDir, "writes"));
      log("  digesting the store after the churn run…");
      await digest("snapshot", azurite.connectionString, settings.tablePrefix, join(digestDir, "after"));
      rowsChanged = JSON.parse((await digest("diff", join(digestDir, "before"), join(digestDir, "after"), join(digestDir, "writes"))).stdout) as typeof rowsChanged;
      rmSync(digestDir, { recursive: true, force: true });
    } else {
      // Azurite sorts a whole table for every page of a query, so reading back a million rows takes hours; the model says what the store must hold.
      churnSummary = await runPhase(`${options.churn * 100}% churn incremental`);
      rowsChanged = await ask<typeof rowsChanged>({ type: "expected-diff" });
    }

    let floor: { readMs: number; readRequests: number; writeMs: number; writeEntities: number; writeTransactions: number } | undefined;
    if (!options.skipFloor) {
      log("  floor: raw read of both delta streams…");
      const read = await measured(() => rawRead(settings, credential));
      // Into a fresh Azurite, as the full sync had: one holding both copies (4 million entities at 100,000 users) runs out of memory.
      log("  floor: starting an empty Azurite, then copying the final entities with the best batching…");
      await azurite.stop();
      azurite = await startAzurite(azuriteOptions);
      const floorRun = promisify(execFile)(process.execPath, ["--max-old-space-size=8192", resolve(__dirname, "floorWriter.js"), recordingPath, azurite.connectionString, "floor", String(options.floorConcurrency)], { maxBuffer: 1 << 20 });
      floorRun.child.stderr?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
      const written = JSON.parse((await floorRun).stdout) as { entities: number; writeMs: number; transactions: number };
      rmSync(recordingDir, { recursive: true, force: true });
      floor = { readMs: read.wallMs, readRequests: read.result.requests, writeMs: written.writeMs, writeEntities: written.entities, writeTransactions: written.transactions };
    }

    const fullFloorMs = floor ? Math.max(floor.readMs, floor.writeMs) : undefined;
    const rows = phases.map((phase, index) => ({ ...phase, ratioToFloor: index === 0 && fullFloorMs ? Number((phase.wallMs / fullFloorMs).toFixed(2)) : undefined }));
    const table = [
      "phase                      wall s   Graph req   RU    429s   transactions   entities written   peak RSS MB   × floor",
      ...rows.map(
        (row) =>
          `${row.phase.padEnd(26)} ${(row.wallMs / 1000).toFixed(1).padStart(6)}   ${String(row.graphRequests).padStart(9)}   ${String(row.resourceUnits).padStart(4)}  ${String(row.throttled).padStart(5)}   ${String(row.tableTransactions).padStart(12)}   ${String(row.entitiesWritten).padStart(16)}   ${String(row.peakRssMb).padStart(11)}   ${row.ratioToFloor ?? ""}`,
      ),
    ];
    if (floor) {
      table.push(`floor: raw read ${(floor.readMs / 1000).toFixed(1)} s (${floor.readRequests} requests); write ${(floor.writeMs / 1000).toFixed(1)} s for ${floor.writeEntities} entities in ${floor.writeTransactions} transactions`);
    }
    const fullWrites = writesByPhase.get("full sync") ?? {};
    const minimal = tenant.users + tenant.groups + tenant.memberships;
    const fullTotal = Object.values(fullWrites).reduce((sum, count) => sum + count, 0);
    const perObject = (count: number) => (count / minimal).toFixed(2);
    table.push(
      `full sync: ${fullTotal} operations for ${minimal} users + groups + direct memberships = ${perObject(fullTotal)} per object (${perObject(fullTotal - (fullWrites.userLookup ?? 0))} without the lookup index); by table ${JSON.stringify(fullWrites)}`,
    );
    const churnWritten = churnSummary.directoryWrites.entitiesWritten + churnSummary.directoryWrites.entitiesDeleted;
    table.push(
      `churn: rows that really changed ${rowsChanged.total} (${rowsChanged.added} added, ${rowsChanged.changed} changed, ${rowsChanged.removed} removed); ` +
        `the run wrote ${churnWritten} entities = ${(churnWritten / Math.max(1, rowsChanged.total)).toFixed(2)}× the changed rows`,
    );
    // Every table that changed or was written to, so writes to a table with no change show too.
    for (const name of new Set([...Object.keys(rowsChanged.byTable), ...Object.keys(rowsChanged.writes ?? {})])) {
      const writes = rowsChanged.writes?.[name];
      table.push(`  ${name.padEnd(9)} ${String(rowsChanged.byTable[name]?.total ?? 0).padStart(7)} changed${writes ? `, ${writes.operations} written to ${writes.rowsTouched} rows, ${writes.rowsTouchedUnchanged} of them unchanged` : ""}`);
      for (const line of writes?.sample ?? []) table.push(`      e.g. ${line}`);
    }
    process.stdout.write(`${table.join("\n")}\n`);

    const report = {
      command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
      commit,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 1024 ** 3), node: process.version, platform: process.platform },
      startedAt: new Date().toISOString(),
      options,
      tenant,
      phases: rows,
      floor,
      churn,
      rowsChanged,
      writesByPhase: Object.fromEntries(writesByPhase),
    };
    const out = options.out ?? join(resolve(__dirname, "../../bench-results"), `bench-${options.users}u-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    mkdirSync(resolve(out, ".."), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    log(`Results written to ${out}`);
    return phases.every((phase) => phase.status === "succeeded") ? 0 : 1;
  } finally {
    await ask({ type: "stop" }).catch(() => undefined);
    await azurite.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
