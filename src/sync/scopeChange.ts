// The scope between runs: what changed in its settings, what the closure needs to decide it, and how its decisions are applied.
import { parseGroupPage } from "../graph/deltaParsing";
import { ScopePolicy, type ScopeSettings } from "../policy/scopePolicy";
import { groupDerived } from "../store/directoryEntities";
import type { Exclusion } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { storedUserState, type ClosureScopeInputs, type ScopeDecisions } from "./membershipClosure";
import type { PageApplier, PageContext } from "./pageApplier";
import { saveHoldChanges } from "./heldDeletions";
import type { RunContext } from "./runContext";
import { addWarning } from "./syncRun";

/** The scope settings the last completed run applied, against the current ones. */
export interface ScopeChange {
  changed: boolean;
  /** The user filters let in more than before: users they left out are read again. */
  widened: boolean;
  /** The current settings, saved as the marker once the run completes. */
  current: string;
}

export async function detectScopeChange(run: RunContext): Promise<ScopeChange> {
  const current = JSON.stringify(run.scope.settings);
  const stored = await run.state.readMarker("scope");
  const previous = stored ? (JSON.parse(stored) as ScopeSettings) : new ScopePolicy().settings;
  const changed = new ScopePolicy(previous).hash() !== run.scope.hash();
  return { changed, widened: changed && ScopePolicy.filtersWidened(previous, run.scope.settings), current };
}

export interface ApplyScopeChangeOptions {
  widened: boolean;
  applier: PageApplier;
}

/** New scope settings: stored users and groups are checked against them; ones they now leave out exit, ones they let in are read by id. */
export async function applyScopeChange(run: RunContext, options: ApplyScopeChangeOptions): Promise<void> {
  run.logger.info("The scope settings changed since the last run; every user and group is checked against them");
  const exclusions = [...(await filterStoredUsers(run, options.applier)), ...(await excludeGroupsByKind(run))];
  const groupsBack = await readmitExcluded(run, { widened: options.widened });
  await run.state.saveExclusions(exclusions);
  // Groups of a kind now synced come back whole, with their members, from a delta query filtered by id.
  if (groupsBack.length > 0) {
    const parsed = parseGroupPage(await run.source.readByIds("groups", groupsBack));
    await options.applier.applyGroupPage(parsed.changes, lateContext(run));
  }
}

/** Stored users the filters now leave out leave the scope. */
async function filterStoredUsers(run: RunContext, applier: PageApplier): Promise<Exclusion[]> {
  const exclusions: Exclusion[] = [];
  for await (const user of run.store.listObjects("users", "deleted eq false")) {
    const why = run.scope.userFilterReason(user.properties);
    if (!why) continue;
    run.summary.scope.excluded++;
    run.runState.plan.record("userExcluded", { id: user.id, reason: why });
    exclusions.push({ id: user.id, objectType: "user", code: "filter", reason: why });
    applier.leaveScope(user.id, why, run.now());
  }
  return exclusions;
}

/** Stored groups of a kind no longer synced are removed; their members are recomputed. */
async function excludeGroupsByKind(run: RunContext): Promise<Exclusion[]> {
  const exclusions: Exclusion[] = [];
  const groupOps: TableOperation[] = [];
  for await (const group of run.store.listObjects("groups", undefined)) {
    if (run.scope.groupKindSynced(group.properties)) continue;
    const reason = `kind ${groupDerived(group.properties).kind} is not in SYNC_GROUP_KINDS`;
    run.summary.scope.groupsExcluded++;
    run.runState.plan.record("groupExcluded", { id: group.id, name: typeof group.properties.displayName === "string" ? group.properties.displayName : undefined, reason });
    exclusions.push({ id: group.id, objectType: "group", code: "kind", reason });
    groupOps.push({ kind: "delete", ...tableKeys.group(run.tenantId, group.id) });
  }
  await run.state.markDirty(new Map(), exclusions.map((exclusion) => exclusion.id));
  await run.store.apply("groups", groupOps);
  return exclusions;
}

/** Objects left out before that the new settings may let in: users to read again, groups of a kind now synced. */
async function readmitExcluded(run: RunContext, { widened }: { widened: boolean }): Promise<string[]> {
  const groupsBack: string[] = [];
  const { scope, runState } = run;
  for await (const exclusion of run.state.listExclusions()) {
    if (exclusion.objectType === "group") {
      if (exclusion.code === "kind" && scope.kindNowSynced(exclusion.reason)) groupsBack.push(exclusion.id);
      continue;
    }
    // Without scope groups the users left out are read again here; with them the closure decides.
    if (scope.usesGroups) continue;
    if (exclusion.code !== "filter" || (widened && !scope.filterReasonStillApplies(exclusion.reason))) runState.readWholeUser(exclusion.id);
  }
  return groupsBack;
}

/** Loads what the closure needs to decide each user's place in the scope. */
export async function closureScopeInputs(run: RunContext, options: { filtersWidened: boolean }): Promise<ClosureScopeInputs> {
  const { store, state, scope, summary } = run;
  const groupNames = new Map<string, string | undefined>();
  for await (const group of store.listObjects("groups", "deleted eq false", ["RowKey", "displayName"])) groupNames.set(group.id, group.properties.displayName as string | undefined);
  const { include, exclude } = scope.scopeGroups(groupNames);
  // A mistyped or deleted scope group would otherwise show only as users leaving; say which setting names it.
  for (const [setting, ids] of [["SCOPE_GROUPS", scope.includeGroups], ["SCOPE_EXCLUDE_GROUPS", scope.excludeGroups]] as const) {
    for (const id of ids) if (!groupNames.has(id) && !summary.warnings.some((warning) => warning.includes(id))) addWarning(summary, `${setting} names group ${id}, which is not a synced group: not found, deleted, or of a kind SYNC_GROUP_KINDS leaves out. It includes or excludes nobody.`);
  }
  if (scope.requiresInclusion && include.size === 0) addWarning(summary, "No group matches SCOPE_GROUPS or SCOPE_GROUP_NAME_PATTERNS: no user is in the scope.");
  return {
    policy: scope,
    include,
    exclude,
    groupNames,
    isScopeHeld: (id) => run.runState.isScopeHeld(id),
    filtersWidened: options.filtersWidened,
    listUsers: async function* () {
      for await (const user of store.listObjects("users", undefined, ["RowKey", "deleted", "deletedReason"])) yield { id: user.id, state: storedUserState(user) };
    },
    listExclusions: () => state.listExclusions(),
    readExclusions: (ids) => state.readExclusions(ids),
  };
}

/** Records the closure's scope decisions: exits staged for the threshold check, admissions to read, exclusions, released holds. */
export async function applyScopeDecisions(run: RunContext, input: { decisions: ScopeDecisions; applier: PageApplier }): Promise<void> {
  const { decisions, applier } = input;
  const now = run.now();
  for (const exit of decisions.exits) applier.leaveScope(exit.id, exit.why, now);
  for (const id of decisions.admit) run.runState.admit(id);
  for (const exclusion of decisions.exclusions) run.runState.plan.record("userExcluded", { id: exclusion.id, reason: exclusion.reason });
  await run.state.saveExclusions(decisions.exclusions);
  for (const id of decisions.released) run.runState.releaseScopeHold(id);
  await saveHoldChanges(run);
}

/** A page context for writes made after the streams: no full read, written at once. */
export function lateContext(run: RunContext): PageContext {
  return { fullReadGeneration: undefined, storeWasEmpty: false, initialLoad: false, now: run.now() };
}
