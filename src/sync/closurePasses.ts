// Recomputes memberships after the streams: the closure decides the scope, admitted users are read by id, until nothing is left to decide.
import { parseUserPage } from "../graph/deltaParsing";
import { closureWorkOf, type ClosureWork, type PendingMembershipEvent } from "../store/syncStateStore";
import { MembershipClosure, type ClosureScopeInputs, type DirectMembershipChange, type ScopeDecisions } from "./membershipClosure";
import { deferMembershipEvents } from "./membershipEvents";
import type { MembershipCollector } from "./membershipCollector";
import type { PageApplier } from "./pageApplier";
import { changeEvent, type RunContext } from "./runContext";
import { applyScopeDecisions, closureScopeInputs, lateContext } from "./scopeChange";
import { addWarning } from "./syncRun";

/** Each pass may admit users whose memberships the next one computes; nesting rarely needs more than two. */
const maxClosurePasses = 4;

export interface RecomputeMembershipsOptions {
  applier: PageApplier;
  /** The user filters were widened since the last run. */
  filtersWidened: boolean;
  /** Every direct membership, when the full read of groups that wrote them all ran in this process. */
  collected: MembershipCollector | undefined;
  /** Keep users' roles up to date: a mapping is set, or one was just removed. */
  manageRoles: boolean;
  /** A full read of groups into a store that held data: its pages noted no membership event, so the closure reports the direct memberships that changed. */
  reportDirectChanges: boolean;
}

export async function recomputeMemberships(run: RunContext, options: RecomputeMembershipsOptions): Promise<void> {
  let collected = options.collected;
  // Users whose deletion waits for the threshold check are recomputed after it, so each row is written once.
  const deferred = new Set((await run.state.readHeldDeletions()).filter((held) => !held.outOfScope).map((held) => held.userId));
  for (let pass = 0; pass < maxClosurePasses; pass++) {
    const stored = await run.state.readClosureWork();
    const work = stored.all ? stored : closureWorkOf(stored, deferred, { except: true });
    if (!hasWork(work) && !run.runState.hasUsersToRead) break;
    const scope = run.scope.usesGroups ? await closureScopeInputs(run, { filtersWidened: options.filtersWidened }) : undefined;
    if (hasWork(work)) {
      const decisions = await runClosure(run, { work, collected, scope, manageRoles: options.manageRoles, reportDirectChanges: options.reportDirectChanges, deferUsers: stored.all ? undefined : deferred });
      collected = undefined;
      if (scope) await applyScopeDecisions(run, { decisions, applier: options.applier });
    }
    await admitUsers(run, options.applier);
  }
  await run.state.markDirty(new Map([...deferred].map((id) => [id, "user"] as const)), []);
}


/** After held deletions were applied: users just marked deleted pass on no membership any more. */
export async function recomputeAfterDeletions(run: RunContext, options: { manageRoles: boolean }): Promise<void> {
  const work = await run.state.readClosureWork();
  if (work.members.size === 0 && work.groups.size === 0) return;
  const scope = run.scope.usesGroups ? await closureScopeInputs(run, { filtersWidened: false }) : undefined;
  const decisions = await runClosure(run, { work, collected: undefined, scope, manageRoles: options.manageRoles, reportDirectChanges: false });
  for (const exclusion of decisions.exclusions) run.runState.plan.record("userExcluded", { id: exclusion.id, reason: exclusion.reason });
  await run.state.saveExclusions(decisions.exclusions);
}

async function runClosure(run: RunContext, input: { work: ClosureWork; collected: MembershipCollector | undefined; scope: ClosureScopeInputs | undefined; manageRoles: boolean; reportDirectChanges: boolean; deferUsers?: ReadonlySet<string> }): Promise<ScopeDecisions> {
  const { work } = input;
  const started = Date.now();
  run.logger.info(`Recomputing memberships: ${work.all ? "every member" : `${work.members.size} members and ${work.groups.size} groups`}`);
  // Without a sink (a dry run) no event is kept, so the closure need not collect any.
  const onDirectChanges = input.reportDirectChanges && run.changeSink !== undefined ? (changes: DirectMembershipChange[]) => deferMembershipEvents(run, changes.map((change) => membershipEvent(run, change))) : undefined;
  const closure = new MembershipClosure({ store: run.store, summary: run.summary, roleMapping: run.config.roleMapping, manageRoles: input.manageRoles, onProgress: (message) => run.logger.info(message), scope: input.scope, onDirectChanges, deferUsers: input.deferUsers });
  const decisions = await closure.run(work, input.collected);
  await run.state.clearClosureWork(work);
  run.logger.info(`Memberships recomputed in ${Date.now() - started} ms`);
  return decisions;
}

/** The event a page would have noted for the change, described the same way. */
function membershipEvent(run: RunContext, change: DirectMembershipChange): PendingMembershipEvent {
  const { memberId, groupId, memberType } = change;
  const event = change.removed
    ? changeEvent(run, { kind: "membershipRemoved", objectId: memberId, groupId, description: `${memberId} from ${groupId}` })
    : changeEvent(run, { kind: "membershipAdded", objectId: memberId, groupId, description: `${memberId} (${memberType}) to ${groupId}` });
  return { event, memberType };
}

/** Users entering the scope, or seen only in part, are read whole by id and applied like a delta page. */
async function admitUsers(run: RunContext, applier: PageApplier): Promise<void> {
  if (!run.runState.hasUsersToRead) return;
  const ids = run.runState.takeUsersToRead();
  run.logger.info(`Reading ${ids.length} users by id (entering the scope, or seen only in part)`);
  const parsed = parseUserPage(await run.source.readByIds("users", ids));
  parsed.warnings.forEach((warning) => addWarning(run.summary, warning));
  await applier.applyUserPage(parsed.changes, lateContext(run));
  run.runState.endAdmission();
}

function hasWork(work: ClosureWork): boolean {
  return work.all || work.members.size > 0 || work.groups.size > 0;
}
