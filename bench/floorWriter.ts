// The write floor, in a process of its own: replays the full sync's recorded writes into their final entities, then writes those into empty tables with the best batching.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { loadSettings } from "../src/config/settings";
import { createTables } from "../src/compositionRoot";
import type { DirectoryTables } from "../src/store/directoryStore";
import { emptyStoreMetrics, TableWriter, type EntityProperties, type TableOperation } from "../src/store/tableWriter";

/** Operations handed to the writer at once; it groups them by partition into 100-row transactions. */
const floorChunk = 20_000;


async function finalEntities(path: string): Promise<Map<keyof DirectoryTables, Map<string, { partitionKey: string; rowKey: string; properties: EntityProperties }>>> {
  const tables = new Map<keyof DirectoryTables, Map<string, { partitionKey: string; rowKey: string; properties: EntityProperties }>>();
  for await (const line of createInterface({ input: createReadStream(path) })) {
    // Each line: the table, a tab, one operation as JSON.
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const table = line.slice(0, tab) as keyof DirectoryTables;
    const operation = JSON.parse(line.slice(tab + 1)) as TableOperation;
    const rows = tables.get(table) ?? new Map();
    tables.set(table, rows);
    const key = `${operation.partitionKey}\u0000${operation.rowKey}`;
    if (operation.kind === "delete") rows.delete(key);
    else rows.set(key, { partitionKey: operation.partitionKey, rowKey: operation.rowKey, properties: operation.mode === "Merge" ? { ...rows.get(key)?.properties, ...operation.properties } : operation.properties });
  }
  return tables;
}

async function main(): Promise<void> {
  const [recording, connectionString, prefix, inFlight] = process.argv.slice(2);
  const concurrency = Number(inFlight);
  if (!recording || !connectionString || !prefix || !(concurrency >= 1)) throw new Error("usage: floorWriter RECORDING CONNECTION_STRING TABLE_PREFIX TRANSACTIONS_IN_FLIGHT");
  const tables = await finalEntities(recording);
  const to = createTables(loadSettings({ ENTRA_TENANT_ID: "00000000-0000-4000-8000-000000000000", DirectoryStorage: connectionString, TABLE_PREFIX: prefix }));
  const metrics = emptyStoreMetrics();
  const writer = new TableWriter(metrics, concurrency);
  await Promise.all([...tables.keys()].map((table) => to[table].createTable()));
  let writeMs = 0;
  let entities = 0;
  for (const [table, rows] of tables) {
    const all = [...rows.values()];
    rows.clear();
    for (let start = 0; start < all.length; start += floorChunk) {
      const chunk = all.slice(start, start + floorChunk).map((row): TableOperation => ({ kind: "upsert", mode: "Replace", ...row }));
      const started = Date.now();
      await writer.apply(to[table], chunk);
      writeMs += Date.now() - started;
      entities += chunk.length;
    }
    process.stderr.write(`  write floor: ${table} written (${entities} entities so far, ${Math.round(writeMs / 1000)} s writing)\n`);
  }
  process.stdout.write(`${JSON.stringify({ entities, writeMs, transactions: metrics.transactions })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
