// Completes a run after both streams: sweep what a full read did not find, apply the scope, recompute closures, apply held deletions, purge, then commit the delta links.
import { createHash } from "node:crypto";
import { finishMembershipLayout, needsMembershipLayout } from "../store/storeSchemaUpgrade";
import type { StreamCheckpoint } from "../store/syncStateStore";
import { recomputeAfterDeletions, recomputeMemberships } from "./closurePasses";
import { applyHeldDeletions, saveHoldChanges } from "./heldDeletions";
import type { PageApplier } from "./pageApplier";
import { recordVisibleMembershipEvents } from "./membershipEvents";
import { purgeExpired } from "./purge";
import type { RunContext } from "./runContext";
import { applyScopeChange, detectScopeChange } from "./scopeChange";
import { sweep } from "./sweep";

export interface CompleteRunOptions {
  applier: PageApplier;
  allowDeletions: boolean;
  /** The store held nothing when the run began: the first sync applied the current settings to every object as it read them. */
  firstSync: boolean;
}

export async function completeRun(run: RunContext, options: CompleteRunOptions): Promise<void> {
  const checkpoints = await readCheckpoints(run);
  for (const stream of run.config.streams) {
    const checkpoint = checkpoints.get(stream)!;
    if (checkpoint.fullReadGeneration && !checkpoint.storeWasEmpty) await sweep(run, { stream, generation: checkpoint.fullReadGeneration });
  }
  const fullRead = ["users", "groups"].some((stream) => checkpoints.get(stream)?.fullReadGeneration !== undefined);
  const scopeChange = await detectScopeChange(run);
  if (scopeChange.changed && !options.firstSync) await applyScopeChange(run, { widened: scopeChange.widened, applier: options.applier });
  const roles = await detectRoleMappingChange(run);
  // A store of an older layout has no groups on its rows yet: they are built from the Members table, with no Graph read.
  const layoutUpgrade = await needsMembershipLayout(run.state);
  // After a full read, or with new scope settings or role mapping, any member's rows may have changed: every one is rebuilt, with no Graph read.
  if (fullRead || scopeChange.changed || roles.changed || layoutUpgrade) await run.state.markDirty(new Map(), [], { all: true });
  const manageRoles = run.config.roleMapping.size > 0 || roles.changed;
  const groups = checkpoints.get("groups");
  // The collected edges stand for the Members table only if this process read the groups stream in full, from its first page.
  const collected = groups?.fullReadGeneration ? run.runState.takeMembershipCollector() : undefined;
  // A full read of groups notes no membership event on its pages, so the rebuild tells which direct memberships changed; the first load reports none.
  const reportDirectChanges = groups?.fullReadGeneration !== undefined && !groups.storeWasEmpty;
  await recomputeMemberships(run, { applier: options.applier, filtersWidened: scopeChange.widened, collected, manageRoles, reportDirectChanges });
  await saveHoldChanges(run);
  await applyHeldDeletions(run, { allowDeletions: options.allowDeletions });
  await purgeExpired(run);
  await recomputeAfterDeletions(run, { manageRoles });
  if (layoutUpgrade) await finishMembershipLayout(run.store, run.state, run.logger);
  await recordVisibleMembershipEvents(run);
  if (roles.changed) await run.state.saveMarker("roleMapping", roles.hash);
  if (scopeChange.changed) await run.state.saveMarker("scope", scopeChange.current);
  await commitCheckpoints(run, checkpoints);
}

async function readCheckpoints(run: RunContext): Promise<Map<string, StreamCheckpoint>> {
  return new Map(await Promise.all(run.config.streams.map(async (stream) => [stream, await run.state.readCheckpoint(stream)] as const)));
}

/** A changed role mapping takes effect on this run: every user's roles are recomputed from the stored memberships. */
async function detectRoleMappingChange(run: RunContext): Promise<{ changed: boolean; hash: string }> {
  const hash = roleMappingHash(run.config.roleMapping);
  const stored = (await run.state.readMarker("roleMapping")) ?? roleMappingHash(new Map());
  return { changed: stored !== hash, hash };
}

/** The delta links the streams ended on become the starting points of the next run. */
async function commitCheckpoints(run: RunContext, checkpoints: Map<string, StreamCheckpoint>): Promise<void> {
  for (const stream of run.config.streams) {
    const checkpoint = checkpoints.get(stream)!;
    await run.state.saveCheckpoint(stream, { ...checkpoint, deltaLink: checkpoint.pendingDeltaLink ?? checkpoint.deltaLink, pendingDeltaLink: undefined, nextLink: undefined, fullReadGeneration: undefined, storeWasEmpty: false });
  }
}

function roleMappingHash(mapping: Map<string, string[]>): string {
  return createHash("sha256").update(JSON.stringify([...mapping].sort(([a], [b]) => a.localeCompare(b)))).digest("base64url");
}
