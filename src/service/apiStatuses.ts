// The statuses the HTTP answers carry, as lists the docs are checked against; each is proved complete against its type at compile time.
import type { SyncRunStatus } from "../sync/syncRun";
import type { LeaseState } from "./runLease";
import type { RunStatus } from "./syncStatus";

/** Fails to compile when a list leaves out a member of its union. */
type Complete<Union, List extends readonly Union[]> = [Exclude<Union, List[number]>] extends [never] ? List : never;

/** `status` of GET /api/sync/runs/{runId} (RunView). */
export const runStatuses = ["queued", "running", "retrying", "paused", "stalled", "succeeded", "quarantined", "failed"] as const satisfies readonly RunStatus[];
/** `status` of the engine's run record (SyncRunSummary, RunOutline). */
export const syncRunStatuses = ["running", "paused", "succeeded", "quarantined", "failed"] as const satisfies readonly SyncRunStatus[];
/** `state` of a lease and `status` of POST /api/sync's answer. */
export const leaseStates = ["queued", "running", "retrying"] as const satisfies readonly LeaseState[];

export const statusLists = {
  runStatuses: runStatuses satisfies Complete<RunStatus, typeof runStatuses>,
  syncRunStatuses: syncRunStatuses satisfies Complete<SyncRunStatus, typeof syncRunStatuses>,
  leaseStates: leaseStates satisfies Complete<LeaseState, typeof leaseStates>,
};
