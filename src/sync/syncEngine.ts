// Runs one sync of a tenant: reads the delta streams page by page, then completes the run; a dry run is the same run with its writes withheld.
import type { ChangeSink } from "../directory/changeEvents";
import type { StreamName } from "../directory/directoryObjects";
import { describeFailure } from "../errors/syncError";
import { upgradeStoreSchema } from "../store/storeSchemaUpgrade";
import type { DeltaSource } from "../graph/graphDeltaReader";
import { emptyGraphMetrics, type GraphMetrics } from "../graph/graphMetrics";
import type { Logger } from "../logging/logger";
import { ScopePolicy } from "../policy/scopePolicy";
import type { DirectoryStore } from "../store/directoryStore";
import type { RunLog } from "../store/runLog";
import type { StreamCheckpoint, SyncStateStore } from "../store/syncStateStore";
import type { StoreMetrics } from "../store/tableWriter";
import { PageApplier } from "./pageApplier";
import { completeRun } from "./runCompletion";
import type { RunConfig, RunContext, RunLogger } from "./runContext";
import { RunPlan, type PlanEntry, type StoredPlan } from "./runPlan";
import { RunState } from "./runState";
import { InitialUserLists } from "./initialUserLists";
import { DeadlineReached, openStream, readStream, type OpenedStream, type ReadStreamOptions } from "./streamReader";
import { addWarning, emptyChangeCounts, newRunId, newRunSummary, type SyncMode, type SyncRunSummary, type SyncTrigger } from "./syncRun";

export interface SyncRequest {
  mode?: SyncMode;
  /** Plan only: the run reads and decides exactly as a real one, and every write (tables, delta state, change feed) is withheld. */
  dryRun?: boolean;
  trigger?: SyncTrigger;
  requestedBy?: string;
  runId?: string;
  /** Epoch ms after which the run stops between pages, saves its place and reports "paused". A dry run runs to its end. */
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
  /** What the run did, or a dry run would do: per kind, how many and the first few (also in `summary.plan` for a dry run). */
  plan: StoredPlan;
  /** A dry run's every id per kind (members as `memberId>groupId`); empty for a real run. */
  planIds: Record<string, string[]>;
  /** A dry run's every entry per kind, ordered by id (who, and why where a rule decided); empty for a real run. */
  planEntries: Record<string, PlanEntry[]>;
}

export interface SyncEngineDependencies {
  tenantId: string;
  source: DeltaSource;
  store: DirectoryStore;
  state: SyncStateStore;
  runLog: RunLog<SyncRunSummary>;
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

export class SyncEngine {
  /** Which users and groups are synced; everything when the dependencies name no policy. */
  private readonly scope: ScopePolicy;

  constructor(private readonly deps: SyncEngineDependencies) {
    this.scope = deps.scope ?? new ScopePolicy();
  }

  async run(request: SyncRequest = {}): Promise<SyncResult> {
    const summary = this.startSummary(request);
    const before = { graph: { ...summary.graph }, directory: { ...this.deps.store.metrics }, state: { ...this.deps.state.metrics } };
    const logger = this.deps.logger.child({ runId: summary.runId, tenantId: this.deps.tenantId });
    let run: RunContext | undefined;
    try {
      run = await this.openRun(summary, logger);
      await this.execute(run, request);
      summary.status = summary.heldDeletions && !summary.dryRun ? "quarantined" : "succeeded";
    } catch (error) {
      if (error instanceof DeadlineReached) {
        summary.status = "paused";
        // Its membership events stay in the state store: the continuation decides them at its end, once it knows who entered the scope.
        logger.info("Deadline reached; the run stopped at a checkpoint and can be continued");
      } else {
        summary.status = "failed";
        summary.error = describeFailure(error);
        logger.error(`Sync failed: ${summary.error}`);
      }
    }
    const plan = run?.runState.plan ?? new RunPlan({ keepIds: false });
    await this.finish(summary, { plan, logger, before, previous: request.continues });
    return { summary, plan: plan.toStored(), planIds: Object.fromEntries(plan.kinds.map((kind) => [kind, plan.ids(kind)])), planEntries: plan.allEntries() };
  }

  private startSummary(request: SyncRequest): SyncRunSummary {
    const started = new Date();
    const previous = request.continues;
    return {
      ...newRunSummary({
        runId: previous?.runId ?? request.runId ?? newRunId(started),
        tenantId: this.deps.tenantId,
        trigger: request.trigger ?? "manual",
        requestedBy: request.requestedBy,
        mode: request.mode ?? "incremental",
        dryRun: request.dryRun ?? false,
        status: "running",
        startedAt: started.toISOString(),
      }),
      graph: this.deps.graphMetrics ?? emptyGraphMetrics(),
      directoryWrites: this.deps.store.metrics,
      stateWrites: this.deps.state.metrics,
      ...(previous ? carriedOver(previous) : {}),
    };
  }

  /** The run's context: a dry run reads the real tables but its writes, delta state and change events are withheld. */
  private async openRun(summary: SyncRunSummary, logger: RunLogger): Promise<RunContext> {
    const { deps } = this;
    const dryRun = summary.dryRun;
    for (const warning of (await deps.credentialHealth?.()) ?? []) addWarning(summary, warning);
    await Promise.all([deps.store.ensureTables(), deps.state.ensureTable(), deps.runLog.ensureTable()]);
    // An older store gets what this version's readers need (the lookup index) before anything else is written.
    if (!dryRun) await upgradeStoreSchema(deps.store, deps.state, logger);
    await deps.runLog.save(summary);
    const state = dryRun ? deps.state.withWritesWithheld() : deps.state;
    const config: RunConfig = {
      streams: deps.syncDevices ? ["users", "groups", "devices"] : ["users", "groups"],
      deletionThreshold: deps.deletionThreshold,
      deletedRetentionDays: deps.deletedRetentionDays,
      roleMapping: deps.roleMapping ?? new Map(),
      clock: deps.clock ?? Date.now,
    };
    const runState = new RunState({ held: await state.readHeldDeletions(), exclusionsExist: await state.hasExclusions(), plan: new RunPlan({ keepIds: dryRun }) });
    return {
      config,
      tenantId: deps.tenantId,
      source: deps.source,
      store: dryRun ? deps.store.withWritesWithheld() : deps.store,
      state,
      changeSink: dryRun ? undefined : deps.changeSink,
      summary,
      runState,
      scope: this.scope,
      logger,
      now: () => new Date().toISOString(),
    };
  }

  private async execute(run: RunContext, request: SyncRequest): Promise<void> {
    const { summary } = run;
    if (this.deps.syncDevices) {
      summary.streams.devices ??= { pages: 0, objects: 0, fullRead: false, completed: false };
      summary.devices ??= emptyChangeCounts();
    }
    const checkpoints = new Map(await Promise.all(run.config.streams.map(async (stream) => [stream, await run.state.readCheckpoint(stream)] as const)));
    // With nothing stored yet the run is a full read whatever was asked, and the record says so.
    if (!request.continues && [...checkpoints.values()].every((checkpoint) => !checkpoint.deltaLink && !checkpoint.nextLink && !checkpoint.fullReadGeneration)) summary.mode = "full";
    run.logger.info(`Sync started: ${summary.mode}${summary.dryRun ? " dry run" : ""}, trigger ${summary.trigger}`);
    const storeEmptyAtStart = !(await run.store.hasAnyObjects());
    const applier = new PageApplier(run);
    await this.readStreams(run, { request, checkpoints, applier, storeEmptyAtStart });
    await completeRun(run, { applier, allowDeletions: request.allowDeletions === true, firstSync: storeEmptyAtStart });
  }

  /**
   * Every stream is opened first (a full read's start is saved before any page), then read; a first sync and an incremental run read users after
   * the rest, so a new user's first write carries its groups. When one stops (failure or deadline) the others stop after their current page, and
   * all are awaited, so nothing writes after the run returns.
   */
  private async readStreams(run: RunContext, input: { request: SyncRequest; checkpoints: Map<StreamName, StreamCheckpoint>; applier: PageApplier; storeEmptyAtStart: boolean }): Promise<void> {
    const stop = { requested: false };
    const opened = await Promise.all(run.config.streams.map((stream) => openStream(run, this.streamOptions(run, { ...input, stream, stop }))));
    const read = (streams: OpenedStream[]) =>
      Promise.allSettled(
        streams.map((stream) =>
          readStream(run, stream).catch((error: unknown) => {
            stop.requested = true;
            throw error;
          }),
        ),
      );
    const users = opened.find((stream) => stream.options.stream === "users")!;
    const groups = opened.find((stream) => stream.options.stream === "groups")!;
    const firstLoad = users.fromFirstPageOfEmptyStore && groups.fromFirstPageOfEmptyStore;
    // Not after a full read of groups into a store with data: its closure reports membership changes by comparing lists, which early ones would hide.
    const usersLast = firstLoad || !groups.fullRead;
    const outcomes = await read(usersLast ? opened.filter((stream) => stream !== users) : opened);
    if (usersLast && !outcomes.some((outcome) => outcome.status === "rejected")) outcomes.push(...(await this.readUsersWithTheirGroups(run, { firstLoad, readUsers: () => read([users]) })));
    const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
    const failure = failures.find((error) => !(error instanceof DeadlineReached)) ?? failures[0];
    if (failure !== undefined) throw failure;
  }

  /** The users stream, read once the groups stream has ended: new users are written with their groups and roles. */
  private async readUsersWithTheirGroups<T>(run: RunContext, input: { firstLoad: boolean; readUsers: () => Promise<T> }): Promise<T> {
    const context = { store: run.store, roleMapping: run.config.roleMapping, summary: run.summary };
    const collected = run.runState.membershipCollector;
    // Read again: an expired delta token may have turned the groups stream into a full read of a store with data, whose closure reports membership changes.
    const groups = await run.state.readCheckpoint("groups");
    if (input.firstLoad && groups.storeWasEmpty && collected) run.runState.useInitialUserLists(await InitialUserLists.afterFirstLoad({ ...context, collected }));
    else if (!input.firstLoad && !groups.fullReadGeneration) run.runState.useInitialUserLists(await InitialUserLists.afterIncrementalGroups({ ...context, state: run.state }));
    try {
      return await input.readUsers();
    } finally {
      // The closure after the streams consumes the collected memberships; lists computed from them after that would be wrong.
      run.runState.useInitialUserLists(undefined);
    }
  }

  private streamOptions(run: RunContext, input: { request: SyncRequest; checkpoints: Map<StreamName, StreamCheckpoint>; applier: PageApplier; storeEmptyAtStart: boolean; stream: StreamName; stop: { requested: boolean } }): ReadStreamOptions {
    const { request, stream } = input;
    return {
      stream,
      checkpoint: input.checkpoints.get(stream)!,
      applier: input.applier,
      // A continuation resumes from the checkpoints; only a fresh full request starts the reads over.
      forceFull: request.mode === "full" && !request.continues,
      storeEmptyAtStart: input.storeEmptyAtStart,
      stop: input.stop,
      // A dry run's withheld writes live in this process only, so it cannot pause and be continued.
      deadline: run.summary.dryRun ? undefined : request.deadline,
      bufferOperations: this.deps.writeBufferOperations ?? defaultWriteBufferOperations,
      heartbeat: request.heartbeat,
      stopSignal: request.stopSignal,
      onPage: (progress) => this.deps.onProgress?.({ stream: progress.stream, pages: progress.pages, objects: progress.objects, objectsPerSecond: progress.objects / progress.seconds }),
    };
  }

  /** Ends the record: the plan, durations and costs (added to a paused run's), saved whatever the outcome. */
  private async finish(summary: SyncRunSummary, input: { plan: RunPlan; logger: RunLogger; before: { graph: GraphMetrics; directory: StoreMetrics; state: StoreMetrics }; previous: SyncRunSummary | undefined }): Promise<void> {
    const { before, previous, logger } = input;
    if (summary.dryRun) summary.plan = input.plan.toStored();
    const ended = new Date();
    summary.endedAt = ended.toISOString();
    summary.durationMs = ended.getTime() - Date.parse(summary.startedAt);
    summary.graph = sum(difference(summary.graph, before.graph), previous?.graph);
    summary.directoryWrites = sum(difference(this.deps.store.metrics, before.directory), previous?.directoryWrites);
    summary.stateWrites = sum(difference(this.deps.state.metrics, before.state), previous?.stateWrites);
    await this.deps.runLog.save(summary).catch((error: unknown) => logger.error(`Could not save the run record: ${(error as Error).message}`));
    logger.info(
      `Sync ${summary.status} in ${summary.durationMs} ms: users +${summary.users.created} ~${summary.users.updated} -${summary.users.deleted + summary.users.softDeleted}, ` +
        `groups +${summary.groups.created} ~${summary.groups.updated} -${summary.groups.deleted + summary.groups.softDeleted}, ` +
        `memberships +${summary.memberships.added} -${summary.memberships.removed}; ${summary.graph.requests} Graph requests, ${summary.directoryWrites.entitiesWritten + summary.directoryWrites.entitiesDeleted} directory writes`,
    );
  }
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
