// Batched writes against Azurite: transactions stay within Table Storage's limits and replays of deletes are harmless.
import assert from "node:assert/strict";
import { TableClient } from "@azure/data-tables";
import { after, before, describe, test } from "node:test";
import { emptyStoreMetrics, maxOperationsPerTransaction, TableWriter, type TableOperation } from "../../src/store/tableWriter";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";

let azurite: AzuriteInstance;
let table: TableClient;

before(async () => {
  azurite = await startAzurite();
  table = TableClient.fromConnectionString(azurite.connectionString, "writerTest", { allowInsecureConnection: true });
  await table.createTable();
});
after(async () => azurite?.stop());

const upsert = (partitionKey: string, rowKey: string, value: number): TableOperation => ({ kind: "upsert", mode: "Replace", partitionKey, rowKey, properties: { value } });

describe("table writer", () => {
  test("splits work into transactions of at most 100 operations, one partition each", async () => {
    const metrics = emptyStoreMetrics();
    const operations = [...Array.from({ length: 250 }, (_, i) => upsert("p1", `r${i}`, i)), ...Array.from({ length: 30 }, (_, i) => upsert("p2", `r${i}`, i))];
    await new TableWriter(metrics, 4).apply(table, operations);
    assert.equal(maxOperationsPerTransaction, 100);
    assert.equal(metrics.transactions, 4, "250 rows need 3 transactions, 30 rows need 1");
    assert.equal(metrics.entitiesWritten, 280);
    let count = 0;
    for await (const _ of table.listEntities({ queryOptions: { filter: "PartitionKey eq 'p1'" } })) count++;
    assert.equal(count, 250);
  });

  test("the last operation on an entity wins, and merges combine", async () => {
    const metrics = emptyStoreMetrics();
    await new TableWriter(metrics, 2).apply(table, [
      upsert("p3", "a", 1),
      upsert("p3", "a", 2),
      { kind: "upsert", mode: "Merge", partitionKey: "p3", rowKey: "b", properties: { x: 1 } },
      { kind: "upsert", mode: "Merge", partitionKey: "p3", rowKey: "b", properties: { y: 2 } },
      upsert("p3", "c", 3),
      { kind: "delete", partitionKey: "p3", rowKey: "c" },
    ]);
    const a = await table.getEntity<{ value: number }>("p3", "a");
    const b = await table.getEntity<{ x: number; y: number }>("p3", "b");
    assert.equal(a.value, 2);
    assert.deepEqual([b.x, b.y], [1, 2]);
    await assert.rejects(table.getEntity("p3", "c"), (error: { statusCode?: number }) => error.statusCode === 404);
  });

  test("deleting entities that are already gone (a replayed page) succeeds", async () => {
    const metrics = emptyStoreMetrics();
    const writer = new TableWriter(metrics, 2);
    await writer.apply(table, [upsert("p4", "a", 1)]);
    await writer.apply(table, [
      { kind: "delete", partitionKey: "p4", rowKey: "a" },
      { kind: "delete", partitionKey: "p4", rowKey: "never-existed" },
      upsert("p4", "b", 1),
    ]);
    await writer.apply(table, [{ kind: "delete", partitionKey: "p4", rowKey: "a" }]);
    assert.equal((await table.getEntity<{ value: number }>("p4", "b")).value, 1);
  });

  test("a failure other than a missing entity is raised with the table's name", async () => {
    const writer = new TableWriter(emptyStoreMetrics(), 1);
    const missing = TableClient.fromConnectionString(azurite.connectionString, "tableThatDoesNotExist", { allowInsecureConnection: true });
    await assert.rejects(writer.apply(missing, [upsert("p", "a", 1), upsert("p", "b", 2)]), /tableThatDoesNotExist/);
  });
});
