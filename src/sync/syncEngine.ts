// Runs one sync of a tenant: reads both delta streams, applies each page, then sweeps, recomputes closures and commits.
import { createHash } from "node:crypto";
import type { StreamName } from "../directory/directoryObjects";
import { parseGroupPage, parseUserPage } from "../graph/deltaParsing";
import { describe, type DeltaCursor, type DeltaPage, type DeltaSource } from "../graph/graphDeltaReader";
import { DeltaTokenExpiredError } from "../graph/graphErrors";
import { emptyGraphMetrics, type GraphMetrics } from "../graph/graphMetrics";
import { objectEntity } from "../store/directoryEntities";
import type { DirectoryStore } from "../store/directoryStore";
import type { RunLog } from "../store/runLog";
import type { StreamCheckpoint, SyncStateStore } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { StoreMetrics, TableOperation } from "../store/tableWriter";
import type { Logger } from "../logging/logger";
import { MembershipClosure, MembershipCollector } from "./membershipClosure";
import { forEachConcurrently } from "./concurrency";
import type { StoredObject } from "../store/directoryEntities";
import type { HeldDeletion } from "../store/syncStateStore";
import { WriteBuffer } from "../store/writeBuffer";
import { PageApplier, type ChangeEvent, type ChangeSink, type PageContext, type PlanSample } from "./pageApplier";
import { addWarning, newRunId, newRunSummary, type SyncMode, type SyncRunSummary, type SyncTrigger } from "./syncRun";

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
  /** Receives what each page changed, after its writes (the change feed). */
  changeSink?: ChangeSink;
  /** Warnings about the sign-in credential (a secret expiring soon), added at the start of each run; throwing fails the run. */
  credentialHealth?: () => Promise<string[]>;
}

/** Operations a full read buffers before it writes them: large transactions, and a few MB of memory. */
const defaultWriteBufferOperations = 20_000;

/** Thrown inside a stream when the run's deadline passed; the checkpoint is already saved. */
class DeadlineReached extends Error {}

export class SyncEngine {
  constructor(private readonly deps: SyncEngineDependencies) {}

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
    const applier = new PageApplier(store, state, summary, this.deps.changeSink);
    try {
      for (const warning of (await this.deps.credentialHealth?.()) ?? []) addWarning(summary, warning);
      await store.ensureTables();
      await runLog.save(summary);
      const checkpoints = { users: await state.readCheckpoint("users"), groups: await state.readCheckpoint("groups") };
      // With nothing stored yet the run is a full read whatever was asked, and the record says so.
      if (!previous && Object.values(checkpoints).every((checkpoint) => !checkpoint.deltaLink && !checkpoint.nextLink && !checkpoint.fullReadGeneration)) summary.mode = "full";
      logger.info(`Sync started: ${summary.mode}${summary.dryRun ? " dry run" : ""}, trigger ${summary.trigger}`);
      // Decided once before either stream writes, so one stream's first page cannot make the other think the store was full.
      const storeEmptyAtStart = !(await store.hasAnyObjects());
      applier.heldUserIds = new Set((await state.readHeldDeletions()).map((held) => held.userId));
      // When one stream stops (failure or deadline) the other stops after its current page, and both are awaited, so nothing writes after the run returns.
      const stop = { requested: false };
      const outcomes = await Promise.allSettled(
        (["users", "groups"] as const).map((stream) =>
          this.readStream(stream, checkpoints[stream], request, summary, applier, logger, storeEmptyAtStart, stop).catch((error: unknown) => {
            stop.requested = true;
            throw error;
          }),
        ),
      );
      const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
      const failure = failures.find((error) => !(error instanceof DeadlineReached)) ?? failures[0];
      if (failure !== undefined) throw failure;
      if (!summary.dryRun) await this.complete(summary, logger, applier, request.allowDeletions === true);
      else await this.checkThreshold(summary, applier.stagedDeletions, request.allowDeletions === true, true);
      summary.status = summary.heldDeletions && !summary.dryRun ? "quarantined" : "succeeded";
    } catch (error) {
      if (error instanceof DeadlineReached) {
        summary.status = "paused";
        logger.info("Deadline reached; the run stopped at a checkpoint and can be continued");
      } else {
        summary.status = "failed";
        summary.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        logger.error(`Sync failed: ${summary.error}`);
      }
    }
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
    const progress = summary.streams[stream];
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
      } else {
        const parsed = parseGroupPage(page.objects);
        parsed.warnings.forEach((warning) => addWarning(summary, warning));
        await applier.applyGroupPage(parsed.changes, context);
      }
      progress.pages++;
      progress.objects += page.objects.length;
      progress.fullRead = current.fullReadGeneration !== undefined;
      current = { ...current, pages: current.pages + 1, objects: current.objects + page.objects.length, nextLink: page.nextLink, pendingDeltaLink: page.nextLink ? undefined : page.deltaLink };
      if (!page.nextLink && !page.deltaLink) throw new Error(`GET ${cursor.kind === "link" ? describe(cursor.url) : stream + "/delta"} answered a page with neither @odata.nextLink nor @odata.deltaLink`);
      const stopping = stop.requested || (request.deadline !== undefined && Date.now() >= request.deadline);
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

  /** After both streams finished: sweep what a full read did not find, recompute closures, then commit the delta links. */
  private async complete(summary: SyncRunSummary, logger: ReturnType<Logger["child"]>, applier: PageApplier, allowDeletions: boolean): Promise<void> {
    const collected = applier.collector;
    const { state } = this.deps;
    const fresh = { users: await state.readCheckpoint("users"), groups: await state.readCheckpoint("groups") };
    for (const stream of ["users", "groups"] as const) {
      const checkpoint = fresh[stream];
      if (checkpoint.fullReadGeneration && !checkpoint.storeWasEmpty) await this.sweep(stream, checkpoint.fullReadGeneration, summary, logger);
    }
    await this.applyHeldDeletions(summary, applier, allowDeletions, logger);
    await this.purge(summary, applier, logger);
    // After a full read of either stream any member's state may have changed, so every MemberOf row is rebuilt.
    if (fresh.groups.fullReadGeneration || fresh.users.fullReadGeneration) await state.markDirty(new Map(), [], true);
    // A changed role mapping takes effect on this run: every user's roles are recomputed from the stored memberships, with no Graph read.
    const roleMapping = this.deps.roleMapping ?? new Map<string, string[]>();
    const mappingHash = roleMappingHash(roleMapping);
    const mappingChanged = ((await state.readMarker("roleMapping")) ?? roleMappingHash(new Map())) !== mappingHash;
    if (mappingChanged) await state.markDirty(new Map(), [], true);
    const work = await state.readClosureWork();
    if (work.all || work.members.size > 0 || work.groups.size > 0) {
      const started = Date.now();
      logger.info(`Recomputing memberships: ${work.all ? "every member" : `${work.members.size} members and ${work.groups.size} groups`}`);
      // The collected edges stand for the Members table only if this process read the groups stream in full, from its first page.
      const closure = new MembershipClosure(this.deps.store, summary, roleMapping, roleMapping.size > 0 || mappingChanged, (message) => logger.info(message));
      await closure.run(work, fresh.groups.fullReadGeneration ? collected : undefined);
      await state.clearClosureWork(work);
      logger.info(`Memberships recomputed in ${Date.now() - started} ms`);
    }
    if (mappingChanged) await state.saveMarker("roleMapping", mappingHash);
    for (const stream of ["users", "groups"] as const) {
      const checkpoint = fresh[stream];
      await state.saveCheckpoint(stream, { ...checkpoint, deltaLink: checkpoint.pendingDeltaLink ?? checkpoint.deltaLink, pendingDeltaLink: undefined, nextLink: undefined, fullReadGeneration: undefined, storeWasEmpty: false });
    }
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
        properties: objectEntity(tenantId, "user", previous.properties, { deleted: true, deletedAt: now, generation: previous.generation ?? "", changedAt: now, roles: previous.roles }),
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
  private async sweep(stream: StreamName, generation: string, summary: SyncRunSummary, logger: ReturnType<Logger["child"]>): Promise<void> {
    const { store, state, tenantId } = this.deps;
    const counts = summary.groups;
    const now = new Date().toISOString();
    const ops: TableOperation[] = [];
    const dirtyGroups: string[] = [];
    const events: ChangeEvent[] = [];
    const holds: HeldDeletion[] = [];
    for await (const object of store.listObjects(stream, `gen ne '${generation}' and deleted eq false`)) {
      const name = object.properties.userPrincipalName ?? object.properties.displayName;
      // Users go through the accidental-deletion threshold like any other deletion: a broken full read must not empty the tables.
      if (stream === "users") {
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
    memberships: copy.memberships,
    transitive: copy.transitive,
    roles: copy.roles ?? { changed: 0 },
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

