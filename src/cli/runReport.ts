// Formats a run summary for people: one screen that says what changed and what it cost.
import type { PlanEntry, StoredPlan } from "../sync/runPlan";
import type { SyncRunSummary } from "../sync/syncRun";
import type { SuggestionReport } from "../policy/serviceAccounts";

export function formatRunSummary(summary: SyncRunSummary, plan?: StoredPlan): string {
  const counts = (c: SyncRunSummary["users"]) =>
    `${c.created} created, ${c.updated} updated, ${c.softDeleted} soft-deleted, ${c.restored} restored, ${c.deleted} deleted, ${c.unchanged} unchanged`;
  const lines = [
    `Run ${summary.runId} ${summary.status}${summary.dryRun ? " (dry run: nothing written)" : ""}`,
    `  mode ${summary.mode}, trigger ${summary.trigger}, ${summary.durationMs ?? 0} ms` +
      `; users ${summary.streams.users.fullRead ? "full read" : "incremental"}, groups ${summary.streams.groups.fullRead ? "full read" : "incremental"}`,
    `  users:        ${counts(summary.users)}`,
    `  groups:       ${counts(summary.groups)}`,
    ...(summary.devices ? [`  devices:      ${counts(summary.devices)}`] : []),
    `  memberships:  ${summary.memberships.added} added, ${summary.memberships.removed} removed, ${summary.memberships.deactivated} deactivated, ${summary.memberships.activated} reactivated` +
      `; inherited through nesting ${summary.transitive.added} added, ${summary.transitive.removed} removed`,
    `  Graph:        ${summary.graph.requests} requests (${summary.graph.resourceUnits} resource units), ${summary.graph.throttled} throttled, ${summary.graph.retries} retries`,
    `  tables:       ${summary.directoryWrites.entitiesWritten} directory entities written, ${summary.directoryWrites.entitiesDeleted} deleted in ${summary.directoryWrites.transactions} transactions` +
      `; ${summary.stateWrites.entitiesWritten} state writes`,
  ];
  const scope = summary.scope;
  if (scope && scope.excluded + scope.left + scope.entered + scope.groupsExcluded > 0) {
    lines.push(`  scope:        ${scope.excluded} users left out (filters or scope groups), ${scope.entered} entered, ${scope.left} left; ${scope.groupsExcluded} groups left out by kind`);
  }
  if (summary.heldDeletions) lines.push(`  held:         ${summary.heldDeletions.count} user deletions, first: ${summary.heldDeletions.sample.join("; ")}`);
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  if (summary.error) lines.push(`  error: ${summary.error}`);
  if (plan && summary.dryRun) {
    if (summary.heldDeletions) lines.push(`  plan: the run would end quarantined, holding ${summary.heldDeletions.count} user deletions`);
    for (const [kind, category] of Object.entries(plan)) lines.push(`  plan, ${kind}: ${category.count}${category.count > category.sample.length ? ` (first ${category.sample.length}; sync --dry-run --json lists every one)` : ""}: ${category.sample.map(formatPlanEntry).join("; ")}`);
  }
  return lines.join("\n");
}

function formatPlanEntry(entry: PlanEntry): string {
  const who = entry.name ? `${entry.name} (${entry.id})` : entry.id;
  return `${who}${entry.groupId ? ` in ${entry.groupId}` : ""}${entry.reason ? `: ${entry.reason}` : ""}`;
}

export function formatSuggestions(report: SuggestionReport): string {
  const lines = [`${report.suggestions.length} of ${report.scanned} synced accounts look like service or system accounts.`, report.note];
  for (const suggestion of report.suggestions) lines.push(`  ${suggestion.userPrincipalName} (${suggestion.id}): ${suggestion.signals.join(", ")}; pattern ${suggestion.pattern}`);
  if (report.patterns.length > 0) lines.push("Patterns, with how many synced accounts each would leave out:");
  for (const pattern of report.patterns) lines.push(`  ${pattern.pattern}: ${pattern.wouldExclude}`);
  return lines.join("\n");
}
