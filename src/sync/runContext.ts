// What every phase of one run works with: where it reads and writes (a dry run's writes are withheld), the record, the run state.
import type { ChangeEvent, ChangeSink } from "../directory/changeEvents";
import type { StreamName } from "../directory/directoryObjects";
import type { DeltaSource } from "../graph/graphDeltaReader";
import type { Logger } from "../logging/logger";
import type { ScopePolicy } from "../policy/scopePolicy";
import type { DirectoryStore } from "../store/directoryStore";
import type { SyncStateStore } from "../store/syncStateStore";
import type { RunState } from "./runState";
import type { SyncRunSummary } from "./syncRun";

export type RunLogger = ReturnType<Logger["child"]>;

/** The engine's settings the phases of a run read. */
export interface RunConfig {
  /** The delta streams this deployment reads: devices only with SYNC_DEVICES. */
  streams: StreamName[];
  /** A run that would delete more users than this (a count, and a percentage of active users; 0 turns one off) holds the deletions back. */
  deletionThreshold: { count: number; percent: number } | undefined;
  /** Days a soft-deleted object is kept before it is purged; undefined keeps it for ever. */
  deletedRetentionDays: number | undefined;
  /** Group id → role names (ROLE_MAPPING). */
  roleMapping: Map<string, string[]>;
  /** Replaces Date.now for the purge cutoff (tests). */
  clock: () => number;
}

export interface RunContext {
  config: RunConfig;
  tenantId: string;
  source: DeltaSource;
  /** The directory tables; in a dry run, with every write withheld. */
  store: DirectoryStore;
  /** Checkpoints, holds, exclusions, markers; in a dry run, with every write withheld. */
  state: SyncStateStore;
  /** Where change events go; a dry run records none. */
  changeSink: ChangeSink | undefined;
  summary: SyncRunSummary;
  runState: RunState;
  scope: ScopePolicy;
  logger: RunLogger;
  /** The time a run's writes are stamped with (tests replace it). */
  now(): string;
}

/** Sends events to the run's change sink, when it has one and there are any. */
export async function recordEvents(run: RunContext, events: ChangeEvent[]): Promise<void> {
  if (events.length > 0) await run.changeSink?.record(events);
}

/** One change event of this run. */
export function changeEvent(run: RunContext, event: Pick<ChangeEvent, "kind" | "objectId" | "description"> & { groupId?: string; at?: string }): ChangeEvent {
  return { tenantId: run.tenantId, runId: run.summary.runId, at: event.at ?? run.now(), kind: event.kind, objectId: event.objectId, groupId: event.groupId, description: event.description };
}
