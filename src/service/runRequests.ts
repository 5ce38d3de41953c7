// Records each run request and its attempts, so a queued run can be looked up and a failure is never silent.
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { statusOf } from "../store/tableWriter";
import type { SyncMode, SyncRunSummary, SyncTrigger } from "../sync/syncRun";

/** queued and running until a worker finishes; "paused" waits for its continuation message. */
export type RunRequestStatus = "queued" | "running" | "paused" | "retrying" | "succeeded" | "quarantined" | "failed";

/** Who asked for what, as the run record says it, plus how the request has fared. */
export interface RunRequestRecord extends Pick<SyncRunSummary, "runId" | "tenantId" | "trigger" | "requestedBy" | "mode" | "dryRun"> {
  /** Carried for the issue that lets a run delete; not acted on yet. */
  allowDeletions: boolean;
  requestedAt: string;
  status: RunRequestStatus;
  /** Worker invocations that worked on the run, continuations and retries included. */
  attempts: number;
  continuations: number;
  lastAttemptAt: string | undefined;
  endedAt: string | undefined;
  /** Why the run failed when it did not end by itself (retries exhausted, poisoned, abandoned). */
  failure: string | undefined;
  /** The error of the latest failed attempt, kept while retries remain. */
  lastError: string | undefined;
  /** Pages and objects read so far per stream, written by the worker while it reads, so the console can show a run moving. */
  progress?: RunProgress;
}

export interface RunProgress {
  streams: Record<string, { pages: number; objects: number }>;
  updatedAt: string;
}

/** RowKey of the marker that remembers a tenant's last successful (not dry) run; run ids start with a digit. */
const lastSuccessRowKey = "lastSuccess";
/** Table Storage string properties hold at most 64 KiB; errors are cut well below. */
const maxErrorLength = 4000;

export interface LastSuccess {
  runId: string;
  endedAt: string;
}

export class RunRequestLog {
  constructor(private readonly table: TableClient) {}

  async create(record: RunRequestRecord): Promise<void> {
    await this.table.upsertEntity({ partitionKey: record.tenantId, rowKey: record.runId, ...toEntity(record) }, "Replace");
  }

  async get(tenantId: string, runId: string): Promise<RunRequestRecord | undefined> {
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>(tenantId, runId);
      return fromEntity(entity);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Merges changes into a record; Merge upserts, so a late update never fails on a purged record. */
  async update(tenantId: string, runId: string, changes: Partial<RunRequestRecord>): Promise<void> {
    const properties = toEntity(changes);
    await this.table.upsertEntity({ partitionKey: tenantId, rowKey: runId, ...properties }, "Merge");
  }

  async recordSuccess(tenantId: string, success: LastSuccess): Promise<void> {
    await this.table.upsertEntity({ partitionKey: tenantId, rowKey: lastSuccessRowKey, ...success }, "Replace");
  }

  async lastSuccess(tenantId: string): Promise<LastSuccess | undefined> {
    try {
      const entity = await this.table.getEntity<LastSuccess>(tenantId, lastSuccessRowKey);
      return { runId: entity.runId, endedAt: entity.endedAt };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Keys of records requested before `cutoff`, for the retention purge (the lastSuccess marker has no requestedAt). */
  async *listRequestedBefore(tenantId: string, cutoff: string): AsyncIterable<{ partitionKey: string; rowKey: string }> {
    const filter = odata`PartitionKey eq ${tenantId} and requestedAt lt ${cutoff}`;
    for await (const entity of this.table.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
      yield { partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey) };
    }
  }
}

function toEntity(record: Partial<RunRequestRecord>): Record<string, string | number | boolean> {
  const entity: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined || name === "runId" || name === "tenantId") continue;
    if (name === "progress") {
      entity[name] = JSON.stringify(value);
      continue;
    }
    entity[name] = typeof value === "string" && (name === "failure" || name === "lastError") ? value.slice(0, maxErrorLength) : (value as string | number | boolean);
  }
  return entity;
}

function fromEntity(entity: Record<string, unknown>): RunRequestRecord {
  const text = (name: string) => (typeof entity[name] === "string" && entity[name] !== "" ? (entity[name] as string) : undefined);
  return {
    runId: String(entity.rowKey),
    tenantId: String(entity.partitionKey),
    trigger: (text("trigger") ?? "manual") as SyncTrigger,
    requestedBy: text("requestedBy"),
    mode: (text("mode") ?? "incremental") as SyncMode,
    dryRun: entity.dryRun === true,
    allowDeletions: entity.allowDeletions === true,
    requestedAt: text("requestedAt") ?? "",
    status: (text("status") ?? "queued") as RunRequestStatus,
    attempts: Number(entity.attempts ?? 0),
    continuations: Number(entity.continuations ?? 0),
    lastAttemptAt: text("lastAttemptAt"),
    endedAt: text("endedAt"),
    failure: text("failure"),
    lastError: text("lastError"),
    ...(text("progress") ? { progress: parseProgress(text("progress")!) } : {}),
  };
}

function parseProgress(value: string): RunProgress | undefined {
  try {
    return JSON.parse(value) as RunProgress;
  } catch {
    return undefined;
  }
}
