// Runs one sync of a tenant: reads both delta streams, applies each page, then sweeps, recomputes closures and commits.
import { describeFailure } from "../errors/syncError";
import { createHash } from "node:crypto";
import type { StreamName } from "../directory/directoryObjects";
import { parseDevicePage, parseGroupPage, parseUserPage } from "../graph/deltaParsing";
import { describe, type DeltaCursor, type DeltaPage, type DeltaSource } from "../graph/graphDeltaReader";
import { DeltaTokenExpiredError } from "../graph/graphErrors";
import { emptyGraphMetrics, type GraphMetrics } from "../graph/graphMetrics";
import { groupDerived, objectEntity } from "../store/directoryEntities";
import type { Exclusion } from "../store/syncStateStore";
import type { DirectoryStore } from "../store/directoryStore";
import type { RunLog } from "../store/runLog";
import type { StreamCheckpoint, SyncStateStore } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { StoreMetrics, TableOperation } from "../store/tableWriter";
import type { Logger } from "../logging/logger";
import { MembershipClosure, MembershipCollector, storedUserState, type ClosureScope } from "./membershipClosure";
import { ScopePolicy, type ScopeSettings } from "../policy/scopePolicy";
import { parseGroupPage as parseGroups, parseUserPage as parseUsers } from "../graph/deltaParsing";
import { forEachConcurrently } from "./concurrency";
import type { StoredObject } from "../store/directoryEntities";
import type { HeldDeletion } from "../store/syncStateStore";
import { WriteBuffer } from "../store/writeBuffer";
import { PageApplier, type ChangeEvent, type ChangeSink, type PageContext, type PlanSample } from "./pageApplier";
import { addWarning, emptyChangeCounts, newRunId, newRunSummary, type SyncMode, type SyncRunSummary, type SyncTrigger } from "./syncRun";

export interface SyncRequest {
  mode?: SyncMode;
  dryRun?: boolean;
  trigger?: SyncTrigger;
  requestedBy?: string;
  runId?: string;
  /** Epoch ms after which the run stops between pages, saves its place and reports "paused". */
  deadline?: number;
  /** The paused run this one continues: its id, start time and counts carry on. */
  continues?: SyncRunSummary;
  /** Apply user deletions even when they exceed the accidental-deletion threshold (the admin has looked at them). */
  allowDeletions?: boolean;
  /** Called after each page's checkpoint; a lease holder renews here, and throwing stops the run. */
  heartbeat?: () => Promise<void>;
  /** Aborted (SIGINT, SIGTERM): the run stops at the next checkpoint as at a deadline, "paused", and can be continued. */
  stopSignal?: AbortSignal;
}

export interface SyncProgress {
  stream: StreamName;
  pages: number;
  objects: number;
  objectsPerSecond: number;
}

export interface SyncResult {
  summary: SyncRunSummary;
  /** For a dry run: the first entries of each kind of change it would make. */
  plan: PlanSample;
}

export interface SyncEngineDependencies {
  tenantId: string;
  source: DeltaSource;
  store: DirectoryStore;
  state: SyncStateStore;
  runLog: RunLog;
  logger: Logger;
  graphMetrics?: GraphMetrics;
  onProgress?: (progress: SyncProgress) => void;
  /** A run that would delete more users than this (a count, and a percentage of active users; 0 turns one off) holds the deletions back. */
  deletionThreshold?: { count: number; percent: number };
  /** Days a soft-deleted object is kept before it is purged; undefined keeps it for ever. */
  deletedRetentionDays?: number;
  /** Replaces Date.now for the purge cutoff (tests). */
  clock?: () => number;
  /** How many writes a full read buffers before it flushes them and moves its checkpoint; a crash replays at most this much. */
  writeBufferOperations?: number;
  /** Group id → role names (ROLE_MAPPING); resolved per user by the closure. */
  roleMapping?: Map<string, string[]>;
  /** Read the devices delta stream into the devices table (SYNC_DEVICES); off by default. */
  syncDevices?: boolean;
  /** Which users and groups are synced (scope groups, group kinds, user filters); everything by default. */
  scope?: ScopePolicy;
  /** Receives what each page changed, after its writes (the change feed). */
  changeSink?: ChangeSink;
  /** Warnings about the sign-in credential (a secret expiring soon), added at the start of each run; throwing fails the run. */
  credentialHealth?: () => Promise<string[]>;
}

/** Operations a full read buffers per stream before it writes them: at 20,000 the peak RSS was 347 MB at 20,000 users, at 5,000 255 MB, in the same time. */
const defaultWriteBufferOperations = 5_000;

/** Thrown inside a stream when the run's deadline passed; the checkpoint is already saved. */
class DeadlineReached extends Error {}

export class SyncEngine {
  /** Which users and groups are synced; everything when the dependencies name no policy. */
  private readonly scope: ScopePolicy;

  constructor(private readonly deps: SyncEngineDependencies) {
    this.scope = deps.scope ?? new ScopePolicy();
  }

  async run(request: SyncRequest = {}): Promise<SyncResult> {
    const { store, state, runLog, tenantId } = this.deps;
    const started = new Date();
    const previous = request.continues;
    const summary: SyncRunSummary = {
      ...newRunSummary({
        runId: previous?.runId ?? request.runId ?? newRunId(started),
        tenantId,
        trigger: request.trigger ?? "manual",
        requestedBy: request.requestedBy,
        mode: request.mode ?? "incremental",
        dryRun: request.dryRun ?? false,
        status: "running",
        startedAt: started.toISOString(),
      }),
      graph: this.deps.graphMetrics ?? emptyGraphMetrics(),
      directoryWrites: store.metrics,
      stateWrites: state.metrics,
      ...(previous ? carriedOver(previous) : {}),
    };
    const graphAtStart = { ...summary.graph };
    const directoryAtStart = { ...store.metrics };
    const stateAtStart = { ...state.metrics };
    const logger = this.deps.logger.child({ runId: summary.runId, tenantId });
    const applier = new PageApplier(store, state, summary, this.deps.changeSink, this.scope);
    try {
      for (const warning of (await this.deps.credentialHealth?.()) ?? []) addWarning(summary, warning);
      await store.ensureTables();
      await runLog.save(summary);
      const streams = this.streams;
      if (this.deps.syncDevices) {
        summary.streams.devices ??= { pages: 0, objects: 0, fullRead: false, completed: false };
        summary.devices ??= emptyChangeCounts();
      }
      const checkpoints = Object.fromEntries(await Promise.all(streams.map(async (stream) => [stream, await state.readCheckpoint(stream)] as const))) as Record<StreamName, StreamCheckpoint>;
      // With nothing stored yet the run is a full read whatever was asked, and the record says so.
      if (!previous && Object.values(checkpoints).every((checkpoint) => !checkpoint.deltaLink && !checkpoint.nextLink && !checkpoint.fullReadGeneration)) summary.mode = "full";
      logger.info(`Sync started: ${summary.mode}${summary.dryRun ? " dry run" : ""}, trigger ${summary.trigger}`);
      // Decided once before either stream writes, so one stream's first page cannot make the other think the store was full.
      const storeEmptyAtStart = !(await store.hasAnyObjects());
      const heldAtStart = await state.readHeldDeletions();
      // A user back in the delta cancels a deletion Entra reported; a scope exit is for the scope to undo.
      applier.heldUserIds = new Set(heldAtStart.filter((held) => !held.outOfScope).map((held) => held.userId));
      applier.scopeHeldIds = new Set(heldAtStart.filter((held) => held.outOfScope).map((held) => held.userId));
      applier.exclusionsExist = await state.hasExclusions();
      // When one stream stops (failure or deadline) the other stops after its current page, and both are awaited, so nothing writes after the run returns.
      const stop = { requested: false };
      const outcomes = await Promise.allSettled(
        streams.map((stream) =>
          this.readStream(stream, checkpoints[stream], request, summary, applier, logger, storeEmptyAtStart, stop).catch((error: unknown) => {
            stop.requested = true;
            throw error;
          }),
        ),
      );
      const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
      const failure = failures.find((error) => !(error instanceof DeadlineReached)) ?? failures[0];
      if (failure !== undefined) throw failure;
      if (!summary.dryRun) await this.complete(summary, logger, applier, request.allowDeletions === true, storeEmptyAtStart);
      else {
        await this.planScope(summary, applier, logger);
        await this.checkThreshold(summary, applier.stagedDeletions, request.allowDeletions === true, true);
      }
      summary.status = summary.heldDeletions && !summary.dryRun ? "quarantined" : "succeeded";
    } catch (error) {
      if (error instanceof DeadlineReached) {
        summary.status = "paused";
        logger.info("Deadline reached; the run stopped at a checkpoint and can be continued");
      } else {
        summary.status = "failed";
        summary.error = describeFailure(error);
        logger.error(`Sync failed: ${summary.error}`);
      }
    }
    // Entries are capped so the record stays well inside Table Storage's 64 KiB per property.
    if (summary.dryRun) summary.plan = Object.fromEntries(Object.entries(applier.plan).map(([kind, entries]) => [kind, entries.map((entry) => entry.slice(0, 200))]));
    const ended = new Date();
    summary.endedAt = ended.toISOString();
    summary.durationMs = ended.getTime() - Date.parse(summary.startedAt);
    summary.graph = sum(difference(summary.graph, graphAtStart), previous?.graph);
    summary.directoryWrites = sum(difference(store.metrics, directoryAtStart), previous?.directoryWrites);
    summary.stateWrites = sum(difference(state.metrics, stateAtStart), previous?.stateWrites);
    await runLog.save(summary).catch((error: unknown) => logger.error(`Could not save the run record: ${(error as Error).message}`));
    logger.info(
      `Sync ${summary.status} in ${summary.durationMs} ms: users +${summary.users.created} ~${summary.users.updated} -${summary.users.deleted + summary.users.softDeleted}, ` +
        `groups +${summary.groups.created} ~${summary.groups.updated} -${summary.groups.deleted + summary.groups.softDeleted}, ` +
        `memberships +${summary.memberships.added} -${summary.memberships.removed}; ${summary.graph.requests} Graph requests, ${summary.directoryWrites.entitiesWritten + summary.directoryWrites.entitiesDeleted} directory writes`,
    );
    return { summary, plan: applier.plan };
  }

  private async readStream(
    stream: StreamName,
    checkpoint: StreamCheckpoint,
    request: SyncRequest,
    summary: SyncRunSummary,
    applier: PageApplier,
    logger: ReturnType<Logger["child"]>,
    storeEmptyAtStart: boolean,
    stop: { requested: boolean },
  ): Promise<void> {
    const { state, source } = this.deps;
    const dryRun = summary.dryRun;
    const progress = summary.streams[stream]!;
    let current: StreamCheckpoint = { ...checkpoint };
    const startFullRead = (storeWasEmpty: boolean): void => {
      current = { ...current, nextLink: undefined, pendingDeltaLink: undefined, fullReadGeneration: summary.runId, storeWasEmpty, pages: 0, objects: 0 };
    };
    // A continuation resumes from the checkpoints; only a fresh full request starts the reads over.
    const forceFull = request.mode === "full" && !request.continues;
    if (current.pendingDeltaLink && !forceFull) {
      progress.completed = true;
      progress.fullRead = current.fullReadGeneration !== undefined;
      return;
    }
    if (forceFull || (!current.deltaLink && !current.nextLink && !current.fullReadGeneration)) {
      startFullRead(storeEmptyAtStart);
      if (stream === "groups") applier.collector = new MembershipCollector();
      // Saved before the first page, so a run that dies before any page still resumes as a full read.
      if (!dryRun) await state.saveCheckpoint(stream, current);
    }
    // Stored rows can exist only if an earlier invocation applied pages of this full read.
    let skipStoredRows = current.storeWasEmpty && current.pages === 0;
    let cursor: DeltaCursor = current.nextLink ? { kind: "link", url: current.nextLink } : current.fullReadGeneration ? { kind: "initial" } : { kind: "link", url: current.deltaLink! };
    if (current.nextLink) logger.info(`Resuming the ${stream} read at page ${current.pages + 1}`);
    const startedAt = Date.now();
    let prefetched: Promise<DeltaPage> | undefined;
    // A full read buffers its writes across pages; its checkpoint moves only when the buffer has been flushed.
    const buffer = dryRun ? undefined : new WriteBuffer();
    for (;;) {
      let page: DeltaPage;
      try {
        page = await (prefetched ?? source.readPage(stream, cursor));
      } catch (error) {
        if (!(error instanceof DeltaTokenExpiredError) || (cursor.kind === "initial" && !current.nextLink)) throw error;
        addWarning(summary, `The ${stream} delta token was no longer valid (${error.code ?? error.status}); started a full read, and objects it does not find will be marked deleted.`);
        logger.warn(`${error.message}; starting a full read of ${stream}`);
        startFullRead(false);
        skipStoredRows = false;
        if (stream === "groups") applier.collector = new MembershipCollector();
        cursor = { kind: "initial" };
        prefetched = undefined;
        continue;
      }
      prefetched = undefined;
      // Fetch the next page while this one is written; it is only consumed after this page's checkpoint is saved.
      if (page.nextLink) {
        prefetched = source.readPage(stream, { kind: "link", url: page.nextLink });
        prefetched.catch(() => undefined);
      }
      const context: PageContext = {
        fullReadGeneration: current.fullReadGeneration,
        storeWasEmpty: skipStoredRows,
        initialLoad: current.fullReadGeneration !== undefined && current.storeWasEmpty,
        dryRun,
        now: new Date().toISOString(),
        buffer: current.fullReadGeneration !== undefined ? buffer : undefined,
      };
      if (stream === "users") {
        const parsed = parseUserPage(page.objects);
        parsed.warnings.forEach((warning) => addWarning(summary, warning));
        await applier.applyUserPage(parsed.changes, context);
      } else if (stream === "groups") {
        const parsed = parseGroupPage(page.objects);
        parsed.warnings.forEach((warning) => addWarning(summary, warning));
        await applier.applyGroupPage(parsed.changes, context);
      } else {
        const parsed = parseDevicePage(page.objects);
        parsed.warnings.forEach((warning) => addWarning(summary, warning));
        await applier.applyDevicePage(parsed.changes, context, summary.devices!);
      }
      progress.pages++;
      progress.objects += page.objects.length;
      progress.fullRead = current.fullReadGeneration !== undefined;
      current = { ...current, pages: current.pages + 1, objects: current.objects + page.objects.length, nextLink: page.nextLink, pendingDeltaLink: page.nextLink ? undefined : page.deltaLink };
      if (!page.nextLink && !page.deltaLink) throw new Error(`GET ${cursor.kind === "link" ? describe(cursor.url) : stream + "/delta"} answered a page with neither @odata.nextLink nor @odata.deltaLink`);
      const stopping = stop.requested || request.stopSignal?.aborted === true || (request.deadline !== undefined && Date.now() >= request.deadline);
      if (context.buffer && context.buffer.size < (this.deps.writeBufferOperations ?? defaultWriteBufferOperations) && page.nextLink && !stopping) {
        // Not flushed yet: the saved checkpoint stays at the last flushed page, which a rerun resumes from.
      } else if (!dryRun) {
        await buffer?.flush(this.deps.store, this.deps.changeSink);
        await state.saveCheckpoint(stream, current);
      }
      await request.heartbeat?.();
      const seconds = Math.max(0.001, (Date.now() - startedAt) / 1000);
      this.deps.onProgress?.({ stream, pages: progress.pages, objects: progress.objects, objectsPerSecond: progress.objects / seconds });
      if (!page.nextLink) break;
      cursor = { kind: "link", url: page.nextLink };
      if (stopping) {
        prefetched = undefined;
        throw new DeadlineReached();
      }
    }
    progress.completed = true;
  }

  /** The delta streams this deployment reads: devices only with SYNC_DEVICES. */
  private get streams(): StreamName[] {
    return this.deps.syncDevices ? ["users", "groups", "devices"] : ["users", "groups"];
  }

  /** Devices a full read did not find are gone: Entra deletes devices for good, so their rows go at once. */
  private async sweepDevices(generation: string, summary: SyncRunSummary, logger: ReturnType<Logger["child"]>): Promise<void> {
    const { store, tenantId } = this.deps;
    const gone: string[] = [];
    for await (const device of store.listObjects("devices", `gen ne '${generation}'`, ["RowKey"])) gone.push(device.id);
    if (gone.length === 0) return;
    summary.devices!.deleted += gone.length;
    await store.apply("devices", gone.map((id): TableOperation => ({ kind: "delete", ...tableKeys.device(tenantId, id) })));
    logger.info(`Full read of devices did not find ${gone.length} stored devices; removed them`);
  }

  /** After both streams finished: sweep what a full read did not find, apply the scope, recompute closures, then commit the delta links. */
  private async complete(summary: SyncRunSummary, logger: ReturnType<Logger["child"]>, applier: PageApplier, allowDeletions: boolean, firstSync: boolean): Promise<void> {
    const collected = applier.collector;
    const { state } = this.deps;
    const fresh = Object.fromEntries(await Promise.all(this.streams.map(async (stream) => [stream, await state.readCheckpoint(stream)] as const))) as Record<"users" | "groups", StreamCheckpoint> & { devices?: StreamCheckpoint };
    for (const stream of this.streams) {
      const checkpoint = fresh[stream]!;
      if (checkpoint.fullReadGeneration && !checkpoint.storeWasEmpty) await this.sweep(stream, checkpoint.fullReadGeneration, summary, logger, applier);
    }
    const context = this.lateContext();
    const scopeChange = await this.scopeChange();
    // The first sync applied the current settings to every object as it read them: nothing stored predates them.
    if (scopeChange.changed && !firstSync) await this.applyScopeChange(scopeChange.widened, summary, applier, logger);
    // After a full read of either stream any member's state may have changed, so every MemberOf row is rebuilt.
    if (fresh.groups.fullReadGeneration || fresh.users.fullReadGeneration || scopeChange.changed) await state.markDirty(new Map(), [], true);
    // A changed role mapping takes effect on this run: every user's roles are recomputed from the stored memberships, with no Graph read.
    const roleMapping = this.deps.roleMapping ?? new Map<string, string[]>();
    const mappingHash = roleMappingHash(roleMapping);
    const mappingChanged = ((await state.readMarker("roleMapping")) ?? roleMappingHash(new Map())) !== mappingHash;
    if (mappingChanged) await state.markDirty(new Map(), [], true);
    const manageRoles = roleMapping.size > 0 || mappingChanged;
    // Each pass may admit users into the scope; their memberships are then recomputed by the next one.
    let groupsCollected = fresh.groups.fullReadGeneration ? collected : undefined;
    for (let pass = 0; pass < 4; pass++) {
      const work = await state.readClosureWork();
      if (!work.all && work.members.size === 0 && work.groups.size === 0 && applier.toFetch.size === 0) break;
      const closureScope = this.scope.usesGroups ? await this.closureScope(applier, scopeChange.widened, summary) : undefined;
      if (work.all || work.members.size > 0 || work.groups.size > 0) {
        const started = Date.now();
        logger.info(`Recomputing memberships: ${work.all ? "every member" : `${work.members.size} members and ${work.groups.size} groups`}`);
        // The collected edges stand for the Members table only if this process read the groups stream in full, from its first page.
        const closure = new MembershipClosure(this.deps.store, summary, roleMapping, manageRoles, (message) => logger.info(message), closureScope);
        await closure.run(work, groupsCollected);
        groupsCollected = undefined;
        await state.clearClosureWork(work);
        logger.info(`Memberships recomputed in ${Date.now() - started} ms`);
      }
      if (closureScope) await this.applyScopeDecisions(closureScope, applier, context);
      await this.admit(summary, applier, context, logger);
    }
    await state.holdDeletions(applier.stagedDeletions.filter((deletion) => deletion.outOfScope));
    await this.applyHeldDeletions(summary, applier, allowDeletions, logger);
    await this.purge(summary, applier, logger);
    // Users just marked deleted pass on no membership any more.
    const work = await state.readClosureWork();
    if (work.members.size > 0 || work.groups.size > 0) {
      const closureScope = this.scope.usesGroups ? await this.closureScope(applier, false, summary) : undefined;
      await new MembershipClosure(this.deps.store, summary, roleMapping, manageRoles, (message) => logger.info(message), closureScope).run(work);
      if (closureScope) await applier.saveExclusions(closureScope.exclusions);
      await state.clearClosureWork(work);
    }
    if (mappingChanged) await state.saveMarker("roleMapping", mappingHash);
    if (scopeChange.changed) await state.saveMarker("scope", scopeChange.current);
    for (const stream of this.streams) {
      const checkpoint = fresh[stream]!;
      await state.saveCheckpoint(stream, { ...checkpoint, deltaLink: checkpoint.pendingDeltaLink ?? checkpoint.deltaLink, pendingDeltaLink: undefined, nextLink: undefined, fullReadGeneration: undefined, storeWasEmpty: false });
    }
  }

  private lateContext(dryRun = false): PageContext {
    return { fullReadGeneration: undefined, storeWasEmpty: false, initialLoad: false, dryRun, now: new Date().toISOString() };
  }

  /** The scope settings the last completed run applied, against the current ones. */
  private async scopeChange(): Promise<{ changed: boolean; widened: boolean; current: string }> {
    const current = JSON.stringify(this.scope.settings);
    const stored = await this.deps.state.readMarker("scope");
    const previous = stored ? (JSON.parse(stored) as ScopeSettings) : new ScopePolicy().settings;
    const changed = new ScopePolicy(previous).hash() !== this.scope.hash();
    return { changed, widened: changed && ScopePolicy.filtersWidened(previous, this.scope.settings), current };
  }

  /** New scope settings: stored users and groups are checked against them; ones they now leave out exit, ones they let in are read by id. */
  private async applyScopeChange(widened: boolean, summary: SyncRunSummary, applier: PageApplier, logger: ReturnType<Logger["child"]>): Promise<void> {
    const { store, state, tenantId } = this.deps;
    const context = this.lateContext(summary.dryRun);
    logger.info("The scope settings changed since the last run; every user and group is checked against them");
    const exclusions: Exclusion[] = [];
    for await (const user of store.listObjects("users", "deleted eq false")) {
      const why = this.scope.userFilterReason(user.properties);
      if (!why) continue;
      summary.scope.excluded++;
      applier.notePlan("userExcluded", `${user.properties.userPrincipalName ?? user.id} (${user.id}): ${why}`);
      exclusions.push({ id: user.id, objectType: "user", code: "filter", reason: why });
      applier.leaveScope(user.id, user.properties, why, context, undefined);
    }
    const groupOps: TableOperation[] = [];
    const dirtyGroups: string[] = [];
    for await (const group of store.listObjects("groups", undefined)) {
      if (this.scope.groupKindSynced(group.properties)) continue;
      const kind = groupDerived(group.properties).kind;
      summary.scope.groupsExcluded++;
      applier.notePlan("groupExcluded", `${group.properties.displayName ?? group.id} (${group.id}): kind ${kind} is not in SYNC_GROUP_KINDS`);
      exclusions.push({ id: group.id, objectType: "group", code: "kind", reason: `kind ${kind} is not in SYNC_GROUP_KINDS` });
      groupOps.push({ kind: "delete", ...tableKeys.group(tenantId, group.id) });
      dirtyGroups.push(group.id);
    }
    const groupsBack: string[] = [];
    for await (const exclusion of state.listExclusions()) {
      // Users the filters left out may pass now; without scope groups they are read again here, with them the closure decides.
      if (exclusion.objectType === "user" && exclusion.code === "filter" && widened && !this.scope.usesGroups && !this.scope.filterReasonStillApplies(exclusion.reason)) applier.toFetch.add(exclusion.id);
      if (exclusion.objectType === "user" && exclusion.code !== "filter" && !this.scope.usesGroups) applier.toFetch.add(exclusion.id);
      if (exclusion.objectType === "group" && exclusion.code === "kind" && this.scope.kindNowSynced(exclusion.reason)) groupsBack.push(exclusion.id);
    }
    if (summary.dryRun) return;
    await applier.saveExclusions(exclusions);
    await state.markDirty(new Map(), dirtyGroups);
    await store.apply("groups", groupOps);
    // Groups of a kind now synced come back whole, with their members, from a delta query filtered by id.
    if (groupsBack.length > 0) {
      const objects = await this.deps.source.readByIds("groups", groupsBack);
      const parsed = parseGroups(objects);
      await applier.applyGroupPage(parsed.changes, context);
    }
  }

  /** Loads what the closure needs to decide each user's place in the scope. */
  private async closureScope(applier: PageApplier, filtersWidened: boolean, summary: SyncRunSummary): Promise<ClosureScope> {
    const { store, state } = this.deps;
    const groupNames = new Map<string, string | undefined>();
    for await (const group of store.listObjects("groups", "deleted eq false", ["RowKey", "displayName"])) groupNames.set(group.id, group.properties.displayName as string | undefined);
    const { include, exclude } = this.scope.scopeGroups(groupNames);
    // A mistyped or deleted scope group would otherwise show only as users leaving; say which setting names it.
    for (const [setting, ids] of [["SCOPE_GROUPS", this.scope.includeGroups], ["SCOPE_EXCLUDE_GROUPS", this.scope.excludeGroups]] as const) {
      for (const id of ids) if (!groupNames.has(id) && !summary.warnings.some((warning) => warning.includes(id))) addWarning(summary, `${setting} names group ${id}, which is not a synced group: not found, deleted, or of a kind SYNC_GROUP_KINDS leaves out. It includes or excludes nobody.`);
    }
    if (this.scope.requiresInclusion && include.size === 0) addWarning(summary, "No group matches SCOPE_GROUPS or SCOPE_GROUP_NAME_PATTERNS: no user is in the scope.");
    return {
      policy: this.scope,
      include,
      exclude,
      groupNames,
      scopeHeld: applier.scopeHeldIds,
      filtersWidened,
      listUsers: async function* () {
        for await (const user of store.listObjects("users", undefined, ["RowKey", "deleted", "deletedReason"])) yield { id: user.id, state: storedUserState(user) };
      },
      listExclusions: () => state.listExclusions(),
      readExclusions: (ids) => state.readExclusions(ids),
      admit: new Set(),
      exits: [],
      exclusions: [],
      released: [],
    };
  }

  /** Records the closure's scope decisions: exclusions, released holds, and exits staged for the threshold check. */
  private async applyScopeDecisions(scope: ClosureScope, applier: PageApplier, context: PageContext): Promise<void> {
    await this.stageExits(scope.exits, applier, context);
    for (const id of scope.admit) {
      applier.toFetch.add(id);
      applier.admitted.add(id);
    }
    if (context.dryRun) return;
    await applier.saveExclusions(scope.exclusions);
    await this.deps.state.releaseHolds(scope.released);
    for (const id of scope.released) applier.scopeHeldIds.delete(id);
  }

  /** Stages the closure's scope exits for the threshold check, named from their stored rows (the first `named` of them). */
  private async stageExits(exits: ClosureScope["exits"], applier: PageApplier, context: PageContext, named = exits.length): Promise<void> {
    const stored = await this.deps.store.readObjects("users", exits.slice(0, named).map((exit) => exit.id));
    for (const exit of exits) applier.leaveScope(exit.id, stored.get(exit.id)?.properties ?? {}, exit.why, context, undefined);
  }

  /** Users entering the scope, or seen only in part, are read whole by id and applied like a delta page. */
  private async admit(summary: SyncRunSummary, applier: PageApplier, context: PageContext, logger: ReturnType<Logger["child"]>): Promise<void> {
    const ids = [...applier.toFetch];
    applier.toFetch.clear();
    if (ids.length === 0) return;
    logger.info(`Reading ${ids.length} users by id (entering the scope, or seen only in part)`);
    const objects = await this.deps.source.readByIds("users", ids);
    const parsed = parseUsers(objects);
    parsed.warnings.forEach((warning) => addWarning(summary, warning));
    const before = summary.users.created + summary.users.restored;
    await applier.applyUserPage(parsed.changes, context);
    summary.scope.entered += summary.users.created + summary.users.restored - before;
    applier.admitted.clear();
  }

  /** A dry run with scope groups: the closure decides on the stored memberships and reports, writing nothing. */
  private async planScope(summary: SyncRunSummary, applier: PageApplier, logger: ReturnType<Logger["child"]>): Promise<void> {
    const scopeChange = await this.scopeChange();
    if (scopeChange.changed) await this.applyScopeChange(scopeChange.widened, summary, applier, logger);
    if (!this.scope.usesGroups) return;
    const closureScope = await this.closureScope(applier, scopeChange.widened, summary);
    await new MembershipClosure(this.deps.store, { ...summary, transitive: { added: 0, removed: 0 }, memberships: { ...summary.memberships }, roles: { changed: 0 } }, new Map(), false, undefined, closureScope, true).run({ all: true, members: new Map(), groups: new Set() });
    // Names are read only for the plan's sample: a dry run holds nothing.
    await this.stageExits(closureScope.exits, applier, this.lateContext(true), 50);
    summary.scope.entered += closureScope.admit.size;
    for (const id of [...closureScope.admit].slice(0, 10)) applier.notePlan("userEnteredScope", `${id}: would be read by id and enter the scope`);
    for (const exclusion of closureScope.exclusions.slice(0, 10)) applier.notePlan("userExcluded", `${exclusion.id}: ${exclusion.reason}`);
  }

  /** True when the deletions exceed the threshold and are not allowed: they are then held and the run says so. */
  private async checkThreshold(summary: SyncRunSummary, deletions: HeldDeletion[], allowDeletions: boolean, dryRun: boolean): Promise<boolean> {
    const threshold = this.deps.deletionThreshold;
    if (!threshold || deletions.length === 0 || allowDeletions) return false;
    const activeUsers = (await this.deps.store.listObjectIds("users", "deleted eq false")).size;
    const overCount = threshold.count > 0 && deletions.length > threshold.count;
    const overPercent = threshold.percent > 0 && deletions.length > (activeUsers * threshold.percent) / 100;
    if (!overCount && !overPercent) return false;
    const limit = [threshold.count > 0 ? `${threshold.count} users` : "", threshold.percent > 0 ? `${threshold.percent} % of ${activeUsers} active users` : ""].filter(Boolean).join(" or ");
    summary.heldDeletions = { count: deletions.length, sample: deletions.slice(0, 10).map((deletion) => `${deletion.name}${deletion.reason === "deleted" ? " (deleted for good)" : ""}`) };
    addWarning(
      summary,
      `${dryRun ? "This run would hold" : "Held"} ${deletions.length} user deletions: more than ${limit} (DELETION_THRESHOLD_COUNT / DELETION_THRESHOLD_PERCENT). ` +
        `Everything else was applied. Check the sample, then request a run with allowDeletions to apply them.`,
    );
    return true;
  }

  /** Applies the user deletions this and earlier runs held, unless they exceed the accidental-deletion threshold. */
  private async applyHeldDeletions(summary: SyncRunSummary, applier: PageApplier, allowDeletions: boolean, logger: ReturnType<Logger["child"]>): Promise<void> {
    const { store, state, tenantId } = this.deps;
    const held = await state.readHeldDeletions();
    if (held.length === 0) return;
    if (await this.checkThreshold(summary, held, allowDeletions, false)) {
      logger.warn(`Quarantined: ${held.length} user deletions held back by the accidental-deletion threshold`);
      return;
    }
    const stored = await store.readObjects("users", held.map((deletion) => deletion.userId));
    const now = new Date().toISOString();
    const softOps: TableOperation[] = [];
    const dirty = new Map<string, string>();
    const forGood: HeldDeletion[] = [];
    const events: ChangeEvent[] = [];
    for (const deletion of held) {
      const previous = stored.get(deletion.userId);
      if (deletion.reason === "deleted") {
        forGood.push(deletion);
        if (previous) summary.users.deleted++;
        if (previous) events.push({ tenantId, runId: summary.runId, at: now, kind: "userDeleted", objectId: deletion.userId, groupId: undefined, description: deletion.name });
        continue;
      }
      if (!previous || previous.deleted) continue;
      summary.users.softDeleted++;
      dirty.set(deletion.userId, "user");
      events.push({ tenantId, runId: summary.runId, at: now, kind: "userSoftDeleted", objectId: deletion.userId, groupId: undefined, description: deletion.name });
      softOps.push({
        kind: "upsert",
        mode: "Replace",
        ...tableKeys.user(tenantId, deletion.userId),
        properties: objectEntity(tenantId, "user", previous.properties, { deleted: true, deletedAt: now, generation: previous.generation ?? "", changedAt: now, roles: previous.roles, outOfScope: deletion.outOfScope }),
      });
    }
    await state.markDirty(dirty, []);
    await store.apply("users", softOps);
    // Memberships go before the user's row, so a crash in between leaves the hold to finish the job.
    await forEachConcurrently(forGood, 8, (deletion) => applier.removeMemberEverywhere(deletion.userId));
    await store.apply("users", forGood.map((deletion): TableOperation => ({ kind: "delete", ...tableKeys.user(tenantId, deletion.userId) })));
    await state.releaseHolds(held.map((deletion) => deletion.userId));
    if (events.length > 0) await this.deps.changeSink?.record(events);
  }

  /** Removes for good what has been soft-deleted longer than the retention, memberships first so a crash leaves no orphan rows. */
  private async purge(summary: SyncRunSummary, applier: PageApplier, logger: ReturnType<Logger["child"]>): Promise<void> {
    const days = this.deps.deletedRetentionDays;
    if (days === undefined) return;
    const { store, tenantId } = this.deps;
    const now = (this.deps.clock ?? Date.now)();
    const cutoff = new Date(now - days * 86_400_000).toISOString();
    for (const stream of ["users", "groups"] as const) {
      const expired: StoredObject[] = [];
      for await (const object of store.listObjects(stream, `deleted eq true and deletedAt lt '${cutoff}'`)) expired.push(object);
      if (expired.length === 0) continue;
      await forEachConcurrently(expired, 8, (object) => (stream === "users" ? applier.removeMemberEverywhere(object.id) : applier.removeGroupEverywhere(object.id)));
      const keyOf = stream === "users" ? tableKeys.user : tableKeys.group;
      await store.apply(stream, expired.map((object): TableOperation => ({ kind: "delete", ...keyOf(tenantId, object.id) })));
      const objectType = stream === "users" ? "user" : "group";
      (stream === "users" ? summary.users : summary.groups).purged += expired.length;
      const at = new Date(now).toISOString();
      await this.deps.changeSink?.record(
        expired.map((object) => ({ tenantId, runId: summary.runId, at, kind: `${objectType}Purged`, objectId: object.id, groupId: undefined, description: `${object.id}: deleted since ${object.deletedAt ?? "?"}, past the ${days}-day retention` })),
      );
      logger.info(`Purged ${expired.length} ${stream} soft-deleted before ${cutoff} (DELETED_RETENTION_DAYS ${days})`);
    }
  }

  /** Objects and memberships a full read did not stamp no longer exist in the directory. */
  private async sweep(stream: StreamName, generation: string, summary: SyncRunSummary, logger: ReturnType<Logger["child"]>, applier: PageApplier): Promise<void> {
    const { store, state, tenantId } = this.deps;
    const counts = summary.groups;
    const now = new Date().toISOString();
    if (stream === "devices") return await this.sweepDevices(generation, summary, logger);
    const ops: TableOperation[] = [];
    const dirtyGroups: string[] = [];
    const events: ChangeEvent[] = [];
    const holds: HeldDeletion[] = [];
    for await (const object of store.listObjects(stream, `gen ne '${generation}' and deleted eq false`)) {
      const name = object.properties.userPrincipalName ?? object.properties.displayName;
      // Users go through the accidental-deletion threshold like any other deletion: a broken full read must not empty the tables.
      if (stream === "users") {
        // Users the filters left out in this read are already held as scope exits.
        if (applier.scopeHeldIds.has(object.id)) continue;
        holds.push({ userId: object.id, reason: "changed", name: `${typeof name === "string" ? `${name} (${object.id})` : object.id}: not found by a full read`, heldAt: now });
        continue;
      }
      counts.softDeleted++;
      events.push({ tenantId, runId: summary.runId, at: now, kind: "groupSoftDeleted", objectId: object.id, groupId: undefined, description: `${typeof name === "string" ? `${name} (${object.id})` : object.id}: not found by a full read` });
      dirtyGroups.push(object.id);
      ops.push({ kind: "upsert", mode: "Replace", ...tableKeys.group(tenantId, object.id), properties: objectEntity(tenantId, "group", object.properties, { deleted: true, deletedAt: now, generation: object.generation ?? "", changedAt: now }) });
    }
    await state.holdDeletions(holds);
    if (holds.length > 0) logger.info(`Full read of users did not find ${holds.length} stored users; their deletion waits for the threshold check`);
    await state.markDirty(new Map(), dirtyGroups);
    await store.apply(stream, ops);
    if (events.length > 0) await this.deps.changeSink?.record(events);
    if (ops.length > 0) logger.info(`Full read of ${stream} did not find ${ops.length} stored ${stream}; marked them deleted`);
    if (stream !== "groups") return;
    const memberOps: TableOperation[] = [];
    const nestingOps: TableOperation[] = [];
    for await (const row of store.listAllMembers(`gen ne '${generation}'`)) {
      summary.memberships.removed++;
      memberOps.push({ kind: "delete", ...tableKeys.member(tenantId, row.groupId, row.memberId) });
      if (row.memberType === "group") nestingOps.push({ kind: "delete", ...tableKeys.nesting(tenantId, row.memberId, row.groupId) });
    }
    await Promise.all([store.apply("members", memberOps), store.apply("nesting", nestingOps)]);
  }
}

function roleMappingHash(mapping: Map<string, string[]>): string {
  return createHash("sha256").update(JSON.stringify([...mapping].sort(([a], [b]) => a.localeCompare(b)))).digest("base64url");
}

/** A continuation keeps the paused run's identity and adds to its counts. */
function carriedOver(previous: SyncRunSummary): Partial<SyncRunSummary> {
  const copy = structuredClone(previous);
  return {
    trigger: copy.trigger,
    requestedBy: copy.requestedBy,
    mode: copy.mode,
    dryRun: copy.dryRun,
    startedAt: copy.startedAt,
    streams: copy.streams,
    users: copy.users,
    groups: copy.groups,
    devices: copy.devices,
    memberships: copy.memberships,
    transitive: copy.transitive,
    roles: copy.roles ?? { changed: 0 },
    scope: copy.scope ?? { excluded: 0, left: 0, entered: 0, groupsExcluded: 0 },
    warnings: copy.warnings,
  };
}

function sum<T extends GraphMetrics | StoreMetrics>(now: T, previous: T | undefined): T {
  if (!previous) return now;
  const result = { ...now };
  for (const key of Object.keys(result) as (keyof T)[]) (result[key] as number) = (now[key] as number) + ((previous[key] as number) ?? 0);
  return result;
}

function difference<T extends GraphMetrics | StoreMetrics>(now: T, before: T): T {
  const result = { ...now };
  for (const key of Object.keys(result) as (keyof T)[]) (result[key] as number) = (now[key] as number) - (before[key] as number);
  return result;
}

