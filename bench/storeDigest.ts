// Digests every directory row to a file, and diffs two digests, in a process of its own so the engine's memory is measured alone.
import { TableClient } from "@azure/data-tables";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { directoryTableNames } from "../src/store/tableNames";
import { diffRows } from "../standin/expectedStore";

/** The tables a consumer reads; checkpoints and run records are bookkeeping, not directory content. */
const directoryTables = ["users", "groups", "members", "memberGroups", "memberGroupsOverflow", "nesting", "userLookup"] as const;
/** Properties that change on every write whether or not the content did. */
const volatile = new Set(["etag", "timestamp", "Timestamp", "odata.etag", "odata.metadata", "changedAt", "gen"]);

async function snapshot(connectionString: string, prefix: string, out: string): Promise<void> {
  const names = directoryTableNames(prefix);
  const file = createWriteStream(out);
  for (const key of directoryTables) {
    const table = TableClient.fromConnectionString(connectionString, names[key], { allowInsecureConnection: true });
    for await (const entity of table.listEntities<Record<string, unknown>>()) {
      const content = Object.keys(entity)
        .filter((name) => !volatile.has(name) && name !== "partitionKey" && name !== "rowKey")
        .sort()
        .map((name) => [name, entity[name]]);
      const digest = createHash("sha1").update(JSON.stringify(content)).digest("base64").slice(0, 12);
      file.write(`${key}|${String(entity.partitionKey)}|${String(entity.rowKey)}\t${digest}\n`);
    }
  }
  await new Promise<void>((resolve) => file.end(resolve));
}

async function read(path: string): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  for await (const line of createInterface({ input: createReadStream(path) })) {
    const [key, digest] = line.split("\t");
    if (key && digest) rows.set(key, digest);
  }
  return rows;
}

/** What a run's writes did to each table: operations, rows they touched, and touched rows whose content did not change. */
export interface WritesAgainstChanges {
  operations: number;
  rowsTouched: number;
  rowsTouchedUnchanged: number;
  /** A few unchanged rows that were written, and by which operations, to show where writes go to waste. */
  sample: string[];
}

async function writesOf(path: string, changed: Set<string>): Promise<Record<string, WritesAgainstChanges>> {
  const touched = new Map<string, string[]>();
  const byTable: Record<string, WritesAgainstChanges> = {};
  for await (const line of createInterface({ input: createReadStream(path) })) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const table = line.slice(0, tab);
    const operation = JSON.parse(line.slice(tab + 1)) as { kind: string; mode?: string; partitionKey: string; rowKey: string; properties?: object };
    (byTable[table] ??= { operations: 0, rowsTouched: 0, rowsTouchedUnchanged: 0, sample: [] }).operations++;
    const key = `${table}|${operation.partitionKey}|${operation.rowKey}`;
    const list = touched.get(key) ?? [];
    list.push(operation.kind === "delete" ? "delete" : `${operation.mode ?? "upsert"} ${JSON.stringify(operation.properties)}`);
    touched.set(key, list);
  }
  for (const [key, operations] of touched) {
    const counts = byTable[key.slice(0, key.indexOf("|"))]!;
    counts.rowsTouched++;
    if (changed.has(key)) continue;
    counts.rowsTouchedUnchanged++;
    if (counts.sample.length < 5) counts.sample.push(`${key}: ${operations.join("; ")}`);
  }
  return byTable;
}

/** Rows changed between two digests; with a run's recorded writes, also how many of those writes changed nothing. */
async function diff(before: string, after: string, writes?: string): Promise<void> {
  const changed = new Set<string>();
  const rows = diffRows(await read(before), await read(after), (key) => changed.add(key));
  process.stdout.write(`${JSON.stringify({ ...rows, writes: writes ? await writesOf(writes, changed) : undefined })}\n`);
}

const [command, ...args] = process.argv.slice(2);
const done = command === "snapshot" ? snapshot(args[0]!, args[1]!, args[2]!) : command === "diff" ? diff(args[0]!, args[1]!, args[2]) : Promise.reject(new Error("usage: storeDigest snapshot CONN PREFIX OUT | diff BEFORE AFTER [WRITES]"));
done.catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
