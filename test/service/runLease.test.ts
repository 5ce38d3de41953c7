// The tenant lease against Azurite's Table service: one holder at a time, ETag races lost cleanly, expired leases taken over.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TableClient } from "@azure/data-tables";
import { silentLogger } from "../../src/logging/logger";
import { LeaseKeeper, LeaseLostError, RunLeases } from "../../src/service/runLease";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";

let azurite: AzuriteInstance;
let tableCounter = 0;
const tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";

before(async () => {
  azurite = await startAzurite();
});
after(async () => azurite?.stop());

async function freshTable(): Promise<TableClient> {
  const table = TableClient.fromConnectionString(azurite.connectionString, `lease${process.pid}x${++tableCounter}`, { allowInsecureConnection: true });
  await table.createTable();
  return table;
}

describe("run lease", () => {
  test("of many simultaneous requests exactly one takes the lease; the others are told who holds it", async () => {
    const leases = new RunLeases(await freshTable(), 60_000);
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => leases.acquire(tenantId, `20260101T020000Z-00000${index}`, `ticket-${index}`)));
    const winners = results.filter((result) => result.acquired);
    assert.equal(winners.length, 1);
    const winner = winners[0]!.acquired ? winners[0]!.lease : undefined;
    for (const result of results) if (!result.acquired) assert.equal(result.holder.runId, winner!.runId);
  });

  test("an expired lease is taken over once, and the old holder can neither renew nor release it", async () => {
    let now = Date.parse("2026-01-01T02:00:00Z");
    const leases = new RunLeases(await freshTable(), 1_000, () => now);
    const first = await leases.acquire(tenantId, "20260101T020000Z-aaaaaa", "a");
    assert.ok(first.acquired);
    assert.equal((await leases.acquire(tenantId, "20260101T020000Z-bbbbbb", "b")).acquired, false, "held until it expires");
    now += 1_001;
    const [second, third] = await Promise.all([leases.acquire(tenantId, "20260101T020001Z-bbbbbb", "b"), leases.acquire(tenantId, "20260101T020001Z-cccccc", "c")]);
    assert.equal([second, third].filter((result) => result.acquired).length, 1, "two takers race for an expired lease; one wins");
    const taker = second.acquired ? second : third.acquired ? third : undefined;
    assert.equal(taker?.replaced?.runId, "20260101T020000Z-aaaaaa");
    await assert.rejects(leases.update(first.lease), LeaseLostError);
    assert.equal(await leases.release(first.lease), false);
    assert.equal((await leases.read(tenantId))?.runId, taker?.lease.runId);
  });

  test("a released lease can be taken at once", async () => {
    const leases = new RunLeases(await freshTable(), 60_000);
    const first = await leases.acquire(tenantId, "20260101T020000Z-aaaaaa", "a");
    assert.ok(first.acquired);
    assert.equal(await leases.release(first.lease), true);
    assert.equal((await leases.acquire(tenantId, "20260101T020000Z-bbbbbb", "b")).acquired, true);
  });

  test("the keeper renews in the background and its heartbeat stops the run once the lease is lost", async () => {
    const leases = new RunLeases(await freshTable(), 60_000);
    const taken = await leases.acquire(tenantId, "20260101T020000Z-aaaaaa", "a");
    assert.ok(taken.acquired);
    const keeper = new LeaseKeeper(taken.lease, leases, 20, silentLogger);
    keeper.start();
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.notEqual(keeper.lease.etag, taken.lease.etag, "renewed by the timer");
    await keeper.heartbeat();
    await keeper.stop();
    await assert.rejects(keeper.heartbeat(), /has ended/, "a stream still running after its invocation ended is stopped");
    // A holder whose lease someone else rewrote (as a takeover would) finds a different ETag at its next renewal.
    const holder = new LeaseKeeper((await leases.read(tenantId))!, leases, 1, silentLogger);
    await leases.update((await leases.read(tenantId))!, { state: "running" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(holder.heartbeat(), LeaseLostError);
    await assert.rejects(holder.heartbeat(), LeaseLostError, "stays lost");
  });
});
