// Answers "what is this run doing" and "how is each tenant's sync doing", from the run log, the request records and the leases.
import type { CredentialStatus } from "../identity/credentialStatus";
import { nextOccurrence, parseNcrontab, ScheduleError } from "../schedule/ncrontab";
import type { SyncRunSummary } from "../sync/syncRun";
import type { LeaseState, RunLeaseRecord } from "./runLease";
import type { RunLogPage } from "../store/runLog";
import type { RunProgress, RunRequestRecord, RunRequestStatus } from "./runRequests";
import { runLogOf, type ServiceContext } from "./serviceContext";
import { readChangeNotificationStatus, type ChangeNotificationStatus } from "./changeNotificationStatus";

/** The run's state as a caller sees it: the lease's word while a worker may act, else how the run ended. */
export type RunStatus = RunRequestStatus | "stalled";

export interface LeaseView {
  state: LeaseState;
  acquiredAt: string;
  renewedAt: string;
  expiresAt: string;
  /** An expired lease means no worker renewed it: the next request or scheduled run takes the tenant over. */
  expired: boolean;
}

export interface RunView {
  runId: string;
  tenantId: string;
  status: RunStatus;
  request: Omit<RunRequestRecord, "runId" | "tenantId" | "status"> | null;
  lease: LeaseView | null;
  summary: SyncRunSummary | null;
}

/** Delta tokens for directory objects last 7 days (delta-query-overview); older ones force a full read. */
const deltaTokenLifetimeMs = 7 * 24 * 3600 * 1000;
/** Runs read to find the last success when the marker is missing (runs from the CLI do not write it). */
const recentRunsScanned = 50;

export async function readRun(context: ServiceContext, runId: string, tenantIds: readonly string[]): Promise<RunView | undefined> {
  await context.ready();
  for (const tenantId of tenantIds) {
    const [request, summary] = await Promise.all([context.requests.get(tenantId, runId), runLogOf(context, tenantId).get(runId)]);
    if (!request && !summary) continue;
    const lease = await context.leases.read(tenantId);
    const held = lease && lease.runId === runId ? lease : undefined;
    return { runId, tenantId, status: statusOf(context, held, request, summary), request: request ? requestView(request) : null, lease: held ? leaseView(context, held) : null, summary: summary ?? null };
  }
  return undefined;
}

function statusOf(context: ServiceContext, lease: RunLeaseRecord | undefined, request: RunRequestRecord | undefined, summary: SyncRunSummary | undefined): RunStatus {
  if (lease) {
    if (context.leases.isExpired(lease)) return "stalled";
    // Between two invocations of a long run the continuation waits in the queue: the run is paused, not newly queued.
    return lease.state === "queued" && request?.status === "paused" ? "paused" : lease.state;
  }
  if (request?.status === "failed" || request?.status === "succeeded" || request?.status === "quarantined") return request.status;
  if (summary?.status === "failed" || summary?.status === "succeeded" || summary?.status === "quarantined") return summary.status;
  // A run the CLI started takes no lease and writes no request record; its own record says how it stands.
  if (!request && summary) return summary.status;
  // A requested run that lost its lease without ending was abandoned before anything could record why.
  return "failed";
}

function requestView(record: RunRequestRecord): RunView["request"] {
  const { runId: _runId, tenantId: _tenantId, status: _status, ...rest } = record;
  return rest;
}

function leaseView(context: ServiceContext, lease: RunLeaseRecord): LeaseView {
  return { state: lease.state, acquiredAt: lease.acquiredAt, renewedAt: lease.renewedAt, expiresAt: lease.expiresAt, expired: context.leases.isExpired(lease) };
}

export interface RunOutline {
  runId: string;
  status: SyncRunSummary["status"] | RunStatus;
  trigger: SyncRunSummary["trigger"];
  requestedBy: string | undefined;
  mode: SyncRunSummary["mode"];
  dryRun: boolean;
  startedAt: string;
  endedAt: string | undefined;
  durationMs: number | undefined;
  users: SyncRunSummary["users"];
  groups: SyncRunSummary["groups"];
  memberships: SyncRunSummary["memberships"];
  transitive: SyncRunSummary["transitive"];
  graphRequests: number;
  graphThrottled: number;
  warningCount: number;
  error: string | undefined;
}

export interface TenantStatus {
  tenantId: string;
  lastSuccessfulSyncAt: string | null;
  lastSuccessfulRunId: string | null;
  lastRun: RunOutline | null;
  /** The run holding the tenant, with what was asked and, while a worker reads, its progress. */
  activeRun: (LeaseView & { runId: string; mode: RunRequestRecord["mode"] | null; dryRun: boolean | null; requestedBy: string | null; progress: RunProgress | null }) | null;
  nextScheduledRunAt: string | null;
  /** The credential mode and, where a secret lives in Key Vault, its expiry and what to do about it. */
  credential: CredentialStatus | null;
  /** Graph change notifications: subscriptions, expiry, and whether group changes are notified or wait for the schedule. */
  changeNotifications: ChangeNotificationStatus;
  warnings: string[];
}

export interface SyncStatus {
  generatedAt: string;
  schedule: { expression: string; timeZone: "UTC"; nextRunAt: string | null };
  tenants: TenantStatus[];
}

export async function readStatus(context: ServiceContext, tenantIds: readonly string[]): Promise<SyncStatus> {
  await context.ready();
  const now = new Date(context.clock());
  const scheduleWarnings: string[] = [];
  let nextRunAt: Date | undefined;
  let interval: number | undefined;
  try {
    const schedule = parseNcrontab(context.settings.syncSchedule);
    nextRunAt = nextOccurrence(schedule, now);
    const after = nextRunAt && nextOccurrence(schedule, nextRunAt);
    interval = nextRunAt && after ? after.getTime() - nextRunAt.getTime() : undefined;
    if (!nextRunAt) scheduleWarnings.push(`SYNC_SCHEDULE "${context.settings.syncSchedule}" never fires, so no scheduled runs happen.`);
  } catch (error) {
    if (!(error instanceof ScheduleError)) throw error;
    scheduleWarnings.push(`${error.message}; the timer cannot start, so no scheduled runs happen.`);
  }
  const credentials = await context.credentialStatus();
  const tenants = await Promise.all(
    tenantIds.map((tenantId) => tenantStatus(context, tenantId, now, nextRunAt, interval, scheduleWarnings, credentials.find((credential) => credential.tenantId === tenantId))),
  );
  return { generatedAt: now.toISOString(), schedule: { expression: context.settings.syncSchedule, timeZone: "UTC", nextRunAt: nextRunAt?.toISOString() ?? null }, tenants };
}

async function tenantStatus(
  context: ServiceContext,
  tenantId: string,
  now: Date,
  nextRunAt: Date | undefined,
  interval: number | undefined,
  scheduleWarnings: string[],
  credential: CredentialStatus | undefined,
): Promise<TenantStatus> {
  const [recent, marker, lease, notifications] = await Promise.all([
    runLogOf(context, tenantId).listRecent(recentRunsScanned),
    context.requests.lastSuccess(tenantId),
    context.leases.read(tenantId),
    readChangeNotificationStatus(context, tenantId),
  ]);
  const lastRun = recent[0];
  const scanned = recent.find((run) => (run.status === "succeeded" || run.status === "quarantined") && !run.dryRun && run.endedAt);
  const success = [marker, scanned && { runId: scanned.runId, endedAt: scanned.endedAt! }].filter((found) => found !== undefined).sort((a, b) => b.endedAt.localeCompare(a.endedAt))[0];
  const warnings = [...scheduleWarnings];
  const age = success ? now.getTime() - Date.parse(success.endedAt) : undefined;
  if (!success) warnings.push("No successful sync yet: the tables do not hold a complete copy of this directory.");
  else if (age! > deltaTokenLifetimeMs) warnings.push(`The last successful sync ended ${Math.floor(age! / 86_400_000)} days ago; its delta tokens have expired (they last 7 days), so the next run reads everything again.`);
  else if (interval !== undefined && age! > 2 * interval) warnings.push(`The last successful sync ended at ${success.endedAt}, more than two scheduled intervals ago.`);
  if (lastRun?.status === "quarantined" && lastRun.heldDeletions) {
    warnings.push(`${lastRun.heldDeletions.count} user deletions are held by the accidental-deletion threshold (first: ${lastRun.heldDeletions.sample.slice(0, 3).join("; ")}); check them, then POST /api/sync with {"allowDeletions": true} to apply them.`);
  }
  if (lastRun?.status === "failed") warnings.push(`The last run (${lastRun.runId}) failed: ${lastRun.error ?? "no reason recorded"}`);
  if (lastRun && lastRun.warnings.length > 0) warnings.push(`The last run (${lastRun.runId}) reported ${lastRun.warnings.length} warning(s); GET /api/sync/runs/${lastRun.runId} lists them.`);
  const leaseExpired = lease !== undefined && context.leases.isExpired(lease);
  const activeRequest = lease ? await context.requests.get(tenantId, lease.runId) : undefined;
  // A secret that expires soon, has expired or cannot be read stops the sync; the message names the secret, the vault and the fix.
  if (credential?.secret && credential.secret.state !== "valid" && credential.secret.state !== "noExpiry") warnings.push(credential.secret.message);
  warnings.push(...notifications.warnings);
  if (lease && leaseExpired) warnings.push(`Run ${lease.runId} is stalled: its lease expired at ${lease.expiresAt} without being renewed. The next request or scheduled run takes over from the last checkpoint.`);
  return {
    tenantId,
    lastSuccessfulSyncAt: success?.endedAt ?? null,
    lastSuccessfulRunId: success?.runId ?? null,
    lastRun: lastRun ? outline(lastRun) : null,
    activeRun: lease
      ? { runId: lease.runId, ...leaseView(context, lease), mode: activeRequest?.mode ?? null, dryRun: activeRequest?.dryRun ?? null, requestedBy: activeRequest?.requestedBy ?? null, progress: activeRequest?.progress ?? null }
      : null,
    nextScheduledRunAt: nextRunAt?.toISOString() ?? null,
    credential: credential ?? null,
    changeNotifications: notifications.status,
    warnings,
  };
}

export interface RunListPage {
  tenantId: string;
  runs: RunOutline[];
  nextCursor: string | null;
}

/** The import log newest first, a page at a time; a run still recorded as running shows how it really stands (lease, request). */
export async function listRuns(context: ServiceContext, tenantId: string, options: { limit: number; cursor?: string }): Promise<RunListPage> {
  await context.ready();
  const page: RunLogPage<SyncRunSummary> = await runLogOf(context, tenantId).page(options);
  const lease = page.runs.some((run) => run.status === "running" || run.status === "paused") ? await context.leases.read(tenantId) : undefined;
  const runs = await Promise.all(
    page.runs.map(async (run) => {
      if (run.status !== "running" && run.status !== "paused") return outline(run);
      const held = lease && lease.runId === run.runId ? lease : undefined;
      const request = await context.requests.get(tenantId, run.runId);
      return { ...outline(run), status: statusOf(context, held, request, run) };
    }),
  );
  return { tenantId, runs, nextCursor: page.nextCursor ?? null };
}

function outline(run: SyncRunSummary): RunOutline {
  return {
    runId: run.runId,
    status: run.status,
    trigger: run.trigger,
    requestedBy: run.requestedBy,
    mode: run.mode,
    dryRun: run.dryRun,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    durationMs: run.durationMs,
    users: run.users,
    groups: run.groups,
    memberships: run.memberships,
    transitive: run.transitive,
    graphRequests: run.graph.requests,
    graphThrottled: run.graph.throttled,
    warningCount: run.warnings.length,
    error: run.error,
  };
}
