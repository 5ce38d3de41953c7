// A sync started outside the Functions host takes the same per-tenant lease, so it never overlaps another run.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RunLeases } from "../../src/service/runLease";
import { runUnderLease } from "../../src/service/leasedRun";
import { silentLogger } from "../../src/logging/logger";
import { DirectoryModel } from "../../standin/directoryModel";
import { standInComposer } from "../functions/support/functionsHarness";
import { assertStoreMatches } from "../support/groundTruth";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 17, users: 30, groups: 5 }) });
});
after(async () => env?.stop());

const options = () => ({ logger: silentLogger, composeTenant: standInComposer(env) });

describe("a sync under the tenant's lease", () => {
  test("runs, then gives the lease back", async () => {
    const settings = env.settings();
    const outcome = await runUnderLease(settings, { trigger: "cli" }, options());
    assert.equal(outcome.started, true);
    const composition = env.compose(settings);
    assert.equal(outcome.started && outcome.result.summary.status, "succeeded");
    assert.equal(await new RunLeases(composition.tables.syncState, 60_000).read(settings.tenantId), undefined);
    assertStoreMatches(await composition.store.snapshot(), env.model);
  });

  test("does not start while another run holds the lease, and names that run", async () => {
    const settings = env.settings();
    const composition = env.compose(settings);
    await composition.store.ensureTables();
    const held = await new RunLeases(composition.tables.syncState, 60_000).acquire(settings.tenantId, "20260101T000000Z-abcdef", "ticket");
    assert.equal(held.acquired, true);
    const requestsBefore = env.standIn.graphRequestCount();
    const outcome = await runUnderLease(settings, { trigger: "cli" }, options());
    assert.equal(outcome.started, false);
    assert.equal(!outcome.started && outcome.holder.runId, "20260101T000000Z-abcdef");
    assert.equal(env.standIn.graphRequestCount(), requestsBefore, "nothing was read");
  });

  test("takes over a lease its holder let expire", async () => {
    const settings = env.settings();
    const composition = env.compose(settings);
    await composition.store.ensureTables();
    const longAgo = () => Date.now() - 3_600_000;
    await new RunLeases(composition.tables.syncState, 60_000, longAgo).acquire(settings.tenantId, "20260101T000000Z-dead00", "ticket");
    const outcome = await runUnderLease(settings, { trigger: "cli" }, options());
    assert.equal(outcome.started, true);
    assert.equal(outcome.started && outcome.tookOverFrom?.runId, "20260101T000000Z-dead00");
  });
});
