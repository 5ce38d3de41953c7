// `node dist/bench/exportMemory.js`: peak RSS and time of `entra-sync export` over a large store, to /dev/null and to a pipe.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadSettings } from "../src/config/settings";
import { createTables } from "../src/compositionRoot";
import { startAzurite } from "../standin/azuriteProcess";
import { populateSyncedStore, SyncedStoreRows } from "../standin/syncedStore";
import { startGeneratedTableService } from "./generatedTableService";

/** Azurite keeps every entity in memory: 2.1 million of them need more than Node's default heap. */
const azuriteHeapMb = 16_384;
const tenantId = "7e57a7e0-5ad1-4c3b-9d0e-57a4d1e5c0de";
const cli = resolve(__dirname, "../src/cli/main.js");

interface ExportMeasurement {
  target: "/dev/null" | "pipe";
  format: string;
  exitCode: number | null;
  wallMs: number;
  peakRssMb: number;
  bytes: number | undefined;
  complete: boolean | undefined;
}

/** VmHWM is the process's peak resident set so far; the last reading before it exits is its peak. */
function peakRssKb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function measureExport(environment: Record<string, string>, target: "/dev/null" | "pipe", format: string): Promise<ExportMeasurement> {
  const devNull = target === "/dev/null" ? openSync("/dev/null", "w") : undefined;
  const started = Date.now();
  const child = spawn(process.execPath, [cli, "export", "--format", format], { env: { PATH: process.env.PATH ?? "", ...environment }, stdio: ["ignore", devNull ?? "pipe", "inherit"] });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssKb(child.pid!) ?? 0)), 50);
  let bytes = 0;
  let tail = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    tail = (tail + chunk.toString("utf8")).slice(-4096);
  });
  const exitCode = await new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  clearInterval(sampler);
  if (devNull !== undefined) closeSync(devNull);
  const complete = target === "pipe" ? (format === "ndjson" ? /"type":"end"/.test(tail) : /"counts": \{/.test(tail)) : undefined;
  return { target, format, exitCode, wallMs: Date.now() - started, peakRssMb: Math.round(peak / 1024), bytes: target === "pipe" ? bytes : undefined, complete };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "100000" },
      groups: { type: "string", default: "1000" },
      "memberships-per-user": { type: "string", default: "10" },
      formats: { type: "string", default: "json,ndjson" },
      // azurite: the rows written into Azurite first; generated: served from SyncedStoreRows page by page (Azurite re-sorts a table for every page, hours at a million rows).
      source: { type: "string", default: "azurite" },
      out: { type: "string" },
    },
  });
  const users = Number(values.users);
  const groups = Number(values.groups);
  const membershipsPerUser = Number(values["memberships-per-user"]);
  if (values.source !== "azurite" && values.source !== "generated") throw new Error(`--source must be azurite or generated, not ${values.source}`);
  const options = { users, groups, membershipsPerUser };
  const service = values.source === "azurite" ? await startAzurite({ inMemory: true, maxOldSpaceMb: azuriteHeapMb }) : await startGeneratedTableService(new SyncedStoreRows(tenantId, options), "bench");
  try {
    const environment = { ENTRA_TENANT_ID: tenantId, DirectoryStorage: service.connectionString, TABLE_PREFIX: "bench" };
    const populateStarted = Date.now();
    const populated = values.source === "azurite" ? await populateSyncedStore(createTables(loadSettings(environment)), tenantId, options) : { memberships: new SyncedStoreRows(tenantId, options).memberships };
    const populateMs = Date.now() - populateStarted;
    process.stderr.write(`${values.source === "azurite" ? "Populated" : "Serving"} ${users} users, ${groups} groups, ${populated.memberships} memberships (${Math.round(populateMs / 1000)} s)\n`);
    const measurements: ExportMeasurement[] = [];
    for (const format of values.formats.split(",")) {
      for (const target of ["/dev/null", "pipe"] as const) {
        const measured = await measureExport(environment, target, format);
        process.stderr.write(`${JSON.stringify(measured)}\n`);
        measurements.push(measured);
      }
    }
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const result = { benchmark: "export", source: values.source, commit, command: `node dist/bench/exportMemory.js ${process.argv.slice(2).join(" ")}`.trim(), machine: { cpus: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version }, users, groups, memberships: populated.memberships, populateMs, measurements };
    const out = values.out ?? join("bench-results", `export-${users}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    mkdirSync(resolve(out, ".."), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await service.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
