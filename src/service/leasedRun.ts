// Runs one sync outside the Functions host (the CLI) under the same per-tenant lease, so it never overlaps a scheduled or requested run.
import { randomUUID } from "node:crypto";
import type { Composition } from "../compositionRoot";
import type { Logger } from "../logging/logger";
import type { SyncRequest, SyncResult } from "../sync/syncEngine";
import { newRunId } from "../sync/syncRun";
import { LeaseKeeper, RunLeases, type RunLeaseRecord } from "./runLease";

/** Renewal cadence relative to the TTL: three chances before the lease could lapse. */
const renewalsPerTtl = 3;

export type LeasedRunResult = { started: true; result: SyncResult; tookOverFrom: RunLeaseRecord | undefined } | { started: false; holder: RunLeaseRecord };

export async function runUnderLease(composition: Composition, request: SyncRequest, logger: Logger): Promise<LeasedRunResult> {
  const { settings, tables } = composition;
  const ttlMs = settings.leaseTtlSeconds * 1000;
  const leases = new RunLeases(tables.syncState, ttlMs);
  await composition.ensureTables();
  const runId = request.runId ?? newRunId();
  const acquired = await leases.acquire(settings.tenantId, runId, randomUUID());
  if (!acquired.acquired) return { started: false, holder: acquired.holder };
  const running = await leases.update(acquired.lease, { state: "running" });
  const keeper = new LeaseKeeper(running, leases, Math.max(1000, Math.floor(ttlMs / renewalsPerTtl)), logger);
  keeper.start();
  try {
    const result = await composition.engine.run({ ...request, runId, heartbeat: keeper.heartbeat });
    return { started: true, result, tookOverFrom: acquired.replaced };
  } finally {
    await keeper.stop();
    await leases.release(keeper.lease);
  }
}
