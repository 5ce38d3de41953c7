// Formats a run summary for people: one screen that says what changed and what it cost.
import type { PlanSample } from "../sync/pageApplier";
import type { SyncRunSummary } from "../sync/syncRun";

export function formatRunSummary(summary: SyncRunSummary, plan?: PlanSample): string {
  const counts = (c: SyncRunSummary["users"]) =>
    `${c.created} created, ${c.updated} updated, ${c.softDeleted} soft-deleted, ${c.restored} restored, ${c.deleted} deleted, ${c.unchanged} unchanged`;
  const lines = [
    `Run ${summary.runId} ${summary.status}${summary.dryRun ? " (dry run: nothing written)" : ""}`,
    `  mode ${summary.mode}, trigger ${summary.trigger}, ${summary.durationMs ?? 0} ms` +
      `; users ${summary.streams.users.fullRead ? "full read" : "incremental"}, groups ${summary.streams.groups.fullRead ? "full read" : "incremental"}`,
    `  users:        ${counts(summary.users)}`,
    `  groups:       ${counts(summary.groups)}`,
    `  memberships:  ${summary.memberships.added} added, ${summary.memberships.removed} removed, ${summary.memberships.deactivated} deactivated, ${summary.memberships.activated} reactivated` +
      `; inherited through nesting ${summary.transitive.added} added, ${summary.transitive.removed} removed`,
    `  Graph:        ${summary.graph.requests} requests (${summary.graph.resourceUnits} resource units), ${summary.graph.throttled} throttled, ${summary.graph.retries} retries`,
    `  tables:       ${summary.directoryWrites.entitiesWritten} directory entities written, ${summary.directoryWrites.entitiesDeleted} deleted in ${summary.directoryWrites.transactions} transactions` +
      `; ${summary.stateWrites.entitiesWritten} state writes`,
  ];
  if (summary.heldDeletions) lines.push(`  held:         ${summary.heldDeletions.count} user deletions, first: ${summary.heldDeletions.sample.join("; ")}`);
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  if (summary.error) lines.push(`  error: ${summary.error}`);
  if (plan && summary.dryRun) {
    for (const [kind, entries] of Object.entries(plan)) lines.push(`  would ${kind}: ${entries.join("; ")}`);
  }
  return lines.join("\n");
}
