// One contract for the storage port, run against Table Storage (Azurite), the in-memory table, and withheld writes over each.
import assert from "node:assert/strict";
import { TableClient } from "@azure/data-tables";
import { after, before, describe, test } from "node:test";
import { AzureTable } from "../../src/store/azureTable";
import { MemoryTable } from "../../src/store/memoryTable";
import type { TableRow, TableStore } from "../../src/store/tableStore";
import { emptyStoreMetrics, type EntityProperties, type TableOperation } from "../../src/store/tableWriter";
import { WithheldTable } from "../../src/store/withheldTable";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";

let azurite: AzuriteInstance;
let tableCounter = 0;

before(async () => {
  azurite = await startAzurite();
});
after(async () => azurite?.stop());

const upsert = (partitionKey: string, rowKey: string, properties: EntityProperties, mode: "Merge" | "Replace" = "Replace"): TableOperation => ({ kind: "upsert", mode, partitionKey, rowKey, properties });

async function azureTable(): Promise<TableStore> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `contract${process.pid}x${++tableCounter}`, { allowInsecureConnection: true });
  const table = new AzureTable(client, { metrics: emptyStoreMetrics(), writeConcurrency: 4 });
  await table.createTable();
  return table;
}

const implementations: Array<[string, () => Promise<TableStore>]> = [
  ["Table Storage (Azurite)", azureTable],
  ["in memory", async () => new MemoryTable("contract")],
  ["withheld over Table Storage", async () => new WithheldTable(await azureTable())],
  ["withheld over memory", async () => new WithheldTable(new MemoryTable("contract"))],
];

/** The properties the core wrote, without what the service adds (etag, timestamp). */
function plain(row: TableRow | undefined): Record<string, unknown> | undefined {
  if (!row) return undefined;
  const { etag: _etag, timestamp: _timestamp, ...rest } = row;
  return Object.fromEntries(Object.entries(rest).filter(([name]) => !name.startsWith("odata.")));
}

async function list(table: TableStore, filter?: string, select?: string[]): Promise<string[]> {
  const keys: string[] = [];
  for await (const row of table.listRows({ filter, select })) keys.push(`${row.partitionKey}/${row.rowKey}`);
  return keys;
}

for (const [name, open] of implementations) {
  describe(`storage port contract: ${name}`, () => {
    test("a Replace upsert clears what it leaves out, a Merge keeps it, null is stored as absent", async () => {
      const table = await open();
      await table.apply([upsert("t_0a", "u1", { a: "1", b: true }), upsert("t_0a", "u2", { a: "2", b: false })]);
      await table.apply([upsert("t_0a", "u1", { c: "3" }, "Merge"), upsert("t_0a", "u2", { c: "4", a: null })]);
      assert.deepEqual(plain(await table.getRow("t_0a", "u1")), { partitionKey: "t_0a", rowKey: "u1", a: "1", b: true, c: "3" });
      assert.deepEqual(plain(await table.getRow("t_0a", "u2")), { partitionKey: "t_0a", rowKey: "u2", c: "4" });
      assert.equal(await table.getRow("t_0a", "missing"), undefined);
    });

    test("a delete removes the row, and deleting a missing row is no error", async () => {
      const table = await open();
      await table.apply([upsert("t_0a", "u1", { a: "1" }), upsert("t_0a", "u2", { a: "2" })]);
      await table.apply([{ kind: "delete", partitionKey: "t_0a", rowKey: "u1" }, { kind: "delete", partitionKey: "t_0a", rowKey: "never" }]);
      assert.equal(await table.getRow("t_0a", "u1"), undefined);
      assert.deepEqual(await list(table), ["t_0a/u2"]);
    });

    test("rows are listed in key order, and the filters the core uses answer the same everywhere", async () => {
      const table = await open();
      await table.apply([
        upsert("t_1b", "c", { deleted: false, gen: "g1" }),
        upsert("t_0a", "b", { deleted: true, gen: "g2", deletedAt: "2026-01-01T00:00:00Z" }),
        upsert("t_0a", "a", { deleted: false, gen: "" }),
        upsert("t_2c", "d", { deleted: true, gen: "g1", deletedAt: "2026-06-01T00:00:00Z" }),
        upsert("u_0a", "e", { deleted: false }),
        upsert("t_0a", "f", { name: "O'Brien" }),
      ]);
      assert.deepEqual(await list(table), ["t_0a/a", "t_0a/b", "t_0a/f", "t_1b/c", "t_2c/d", "u_0a/e"]);
      const tenant = "PartitionKey ge 't_' and PartitionKey lt 't`'";
      assert.deepEqual(await list(table, tenant), ["t_0a/a", "t_0a/b", "t_0a/f", "t_1b/c", "t_2c/d"]);
      assert.deepEqual(await list(table, `${tenant} and (deleted eq false)`), ["t_0a/a", "t_1b/c"]);
      // A row without the property matches no comparison, `ne` included.
      assert.deepEqual(await list(table, `${tenant} and (gen ne 'g1' and deleted eq false)`), ["t_0a/a"]);
      assert.deepEqual(await list(table, `${tenant} and (deleted eq true and deletedAt lt '2026-03-01T00:00:00Z')`), ["t_0a/b"]);
      assert.deepEqual(await list(table, "PartitionKey eq 't_0a' and RowKey ge 'b' and RowKey lt 'g'"), ["t_0a/b", "t_0a/f"]);
      assert.deepEqual(await list(table, "name eq 'O''Brien'"), ["t_0a/f"]);
      assert.deepEqual(await list(table, "RowKey eq 'a' or RowKey eq 'e'"), ["t_0a/a", "u_0a/e"]);
    });

    test("select returns the keys and the properties asked for; limit stops early", async () => {
      const table = await open();
      await table.apply([upsert("p", "1", { a: "x", b: "y" }), upsert("p", "2", { a: "z", b: "w" })]);
      const rows: Array<Record<string, unknown>> = [];
      for await (const row of table.listRows({ select: ["RowKey", "a"], limit: 1 })) rows.push(plain(row)!);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.rowKey, "1");
      assert.equal(rows[0]!.partitionKey, undefined, "keys only when named");
      assert.equal(rows[0]!.a, "x");
      assert.equal(rows[0]!.b, undefined);
    });

    test("a large write (more than one transaction per partition) is applied whole", async () => {
      const table = await open();
      await table.apply(Array.from({ length: 250 }, (_, i) => upsert("big", `r${String(i).padStart(3, "0")}`, { i })));
      assert.equal((await list(table, "PartitionKey eq 'big'")).length, 250);
    });
  });
}

describe("withheld writes", () => {
  test("reads see the withheld writes laid over the table, and the table behind is never written", async () => {
    const behind = await azureTable();
    await behind.apply([upsert("p", "a", { v: "1", keep: "k" }), upsert("p", "b", { v: "2" }), upsert("p", "d", { v: "4" })]);
    const withheld = new WithheldTable(behind);
    await withheld.apply([upsert("p", "a", { v: "9" }, "Merge"), { kind: "delete", partitionKey: "p", rowKey: "b" }, upsert("p", "c", { v: "3" })]);
    assert.deepEqual(await list(withheld), ["p/a", "p/c", "p/d"]);
    assert.deepEqual(plain(await withheld.getRow("p", "a")), { partitionKey: "p", rowKey: "a", v: "9", keep: "k" });
    assert.deepEqual(await list(withheld, "v eq '2' or v eq '9'"), ["p/a"]);
    assert.deepEqual(await list(behind), ["p/a", "p/b", "p/d"]);
    assert.equal(plain(await behind.getRow("p", "a"))!.v, "1");
    assert.equal(behind.metrics.entitiesWritten, 3, "only the setup wrote");
    assert.equal(withheld.withheld.entitiesWritten + withheld.withheld.entitiesDeleted, 3);
  });
});
