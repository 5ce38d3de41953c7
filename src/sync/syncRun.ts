// The record of one sync run: what started it, what it changed, what it cost, and how it ended.
import { randomBytes } from "node:crypto";
import { emptyGraphMetrics, type GraphMetrics } from "../graph/graphMetrics";
import { emptyStoreMetrics, type StoreMetrics } from "../store/tableWriter";
import type { StoredPlan } from "./runPlan";

export type SyncMode = "incremental" | "full";
export type SyncTrigger = "schedule" | "manual" | "notification" | "continuation" | "cli" | "demo";
/** "quarantined": everything was applied but user deletions above the threshold, which wait for a run with allowDeletions. */
export type SyncRunStatus = "running" | "succeeded" | "failed" | "paused" | "quarantined";

export interface ChangeCounts {
  created: number;
  updated: number;
  unchanged: number;
  softDeleted: number;
  restored: number;
  deleted: number;
  /** Soft-deleted longer than DELETED_RETENTION_DAYS, and so removed for good. */
  purged: number;
}

export interface StreamProgress {
  pages: number;
  objects: number;
  fullRead: boolean;
  completed: boolean;
}

export interface SyncRunSummary {
  runId: string;
  tenantId: string;
  trigger: SyncTrigger;
  requestedBy: string | undefined;
  mode: SyncMode;
  dryRun: boolean;
  status: SyncRunStatus;
  startedAt: string;
  endedAt: string | undefined;
  durationMs: number | undefined;
  streams: Record<"users" | "groups", StreamProgress> & { devices?: StreamProgress };
  users: ChangeCounts;
  groups: ChangeCounts;
  /** Present when devices are synced (SYNC_DEVICES). */
  devices?: ChangeCounts;
  memberships: { added: number; removed: number; activated: number; deactivated: number };
  transitive: { added: number; removed: number };
  /** Users whose effective roles (ROLE_MAPPING) changed. */
  roles: { changed: number };
  /** Scope decisions: users left out by the filters or scope groups, users leaving and entering the scope, groups left out by kind. */
  scope: { excluded: number; left: number; entered: number; groupsExcluded: number };
  /** User deletions held back by the accidental-deletion threshold: how many, and the first few. */
  heldDeletions: { count: number; sample: string[] } | undefined;
  graph: GraphMetrics;
  /** Writes to the directory tables only (users, groups, members, nesting, member groups, the lookup index). */
  directoryWrites: StoreMetrics;
  /** Writes of checkpoints and the run log, reported apart so a no-op run can show 0 directory writes. */
  stateWrites: StoreMetrics;
  warnings: string[];
  error: string | undefined;
  /** A dry run's plan: per kind of change, how many and the first entries (who, and why); see StoredPlan and docs/api.md. */
  plan?: StoredPlan;
}

export function emptyChangeCounts(): ChangeCounts {
  return { created: 0, updated: 0, unchanged: 0, softDeleted: 0, restored: 0, deleted: 0, purged: 0 };
}

/** A run record with nothing counted yet: what a run starts from, or what records a run the engine never started. */
export function newRunSummary(
  identity: Pick<SyncRunSummary, "runId" | "tenantId" | "trigger" | "requestedBy" | "mode" | "dryRun" | "status" | "startedAt">,
): SyncRunSummary {
  return {
    ...identity,
    endedAt: undefined,
    durationMs: undefined,
    streams: { users: { pages: 0, objects: 0, fullRead: false, completed: false }, groups: { pages: 0, objects: 0, fullRead: false, completed: false } },
    users: emptyChangeCounts(),
    groups: emptyChangeCounts(),
    memberships: { added: 0, removed: 0, activated: 0, deactivated: 0 },
    transitive: { added: 0, removed: 0 },
    roles: { changed: 0 },
    scope: { excluded: 0, left: 0, entered: 0, groupsExcluded: 0 },
    heldDeletions: undefined,
    graph: emptyGraphMetrics(),
    directoryWrites: emptyStoreMetrics(),
    stateWrites: emptyStoreMetrics(),
    warnings: [],
    error: undefined,
  };
}

/** Run ids sort by time and are unique without coordination. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Most warnings repeat per object; the record keeps the first ones and a count of the rest. */
export const maxWarningsKept = 50;

export function addWarning(summary: SyncRunSummary, warning: string): void {
  if (summary.warnings.length < maxWarningsKept) summary.warnings.push(warning);
  else if (summary.warnings.length === maxWarningsKept) summary.warnings.push("… more warnings were left out");
}
