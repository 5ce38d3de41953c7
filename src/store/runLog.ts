// Keeps the log of sync runs per tenant, newest first, for the status command and the admin's import log.
import { odata, type TableClient } from "@azure/data-tables";
import { statusOf, TableWriter, type StoreMetrics } from "./tableWriter";

/** Inverted milliseconds make RowKey order newest first. */
const rowKeyPattern = /^\d{13}_\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export interface RunLogPage<S> {
  runs: S[];
  /** Pass back as `cursor` for the next (older) page; undefined when this page reached the oldest run. */
  nextCursor: string | undefined;
}

/** A cursor that is not a row key this log wrote. */
export class InvalidRunCursorError extends Error {
  override name = "InvalidRunCursorError";
}


const invertedTime = (iso: string) => String(9_999_999_999_999 - Date.parse(iso)).padStart(13, "0");

/** What the log needs of a run record to key and list it; the record itself (the sync's S) is stored whole as JSON. */
export interface RunRecord {
  runId: string;
  status: string;
  trigger: string;
  mode: string;
  dryRun: boolean;
  startedAt: string;
  endedAt: string | undefined;
}

export class RunLog<S extends RunRecord = RunRecord> {
  private readonly writer: TableWriter;

  constructor(
    private readonly table: TableClient,
    private readonly tenantId: string,
    metrics: StoreMetrics,
  ) {
    this.writer = new TableWriter(metrics, 1);
  }

  /** Creates the table if missing (the SDK takes 409 "already exists" as success). */
  async ensureTable(): Promise<void> {
    await this.table.createTable();
  }

  async save(summary: S): Promise<void> {
    await this.writer.apply(this.table, [
      {
        kind: "upsert",
        mode: "Replace",
        partitionKey: this.tenantId,
        rowKey: `${invertedTime(summary.startedAt)}_${summary.runId}`,
        properties: {
          runId: summary.runId,
          status: summary.status,
          trigger: summary.trigger,
          mode: summary.mode,
          dryRun: summary.dryRun,
          startedAt: summary.startedAt,
          endedAt: summary.endedAt,
          summary: JSON.stringify(summary),
        },
      },
    ]);
  }

  async get(runId: string): Promise<S | undefined> {
    if (!/^[0-9TZ]+-[0-9a-f]+$/.test(runId)) return undefined;
    const filter = `PartitionKey eq '${this.tenantId}' and runId eq '${runId}'`;
    for await (const entity of this.table.listEntities<{ summary: string }>({ queryOptions: { filter } })) return JSON.parse(entity.summary) as S;
    return undefined;
  }

  /** Runs newest first, `limit` at a time; the cursor is the last row key read, so a page is one key-range query. */
  async page(options: { limit: number; cursor?: string }): Promise<RunLogPage<S>> {
    let filter = odata`PartitionKey eq ${this.tenantId}`;
    if (options.cursor !== undefined) {
      const after = Buffer.from(options.cursor, "base64url").toString("utf8");
      if (!rowKeyPattern.test(after)) throw new InvalidRunCursorError("cursor is not one this API returned; pass nextCursor from the previous page unchanged");
      filter += odata` and RowKey gt ${after}`;
    }
    const runs: S[] = [];
    let lastRowKey = "";
    try {
      for await (const entity of this.table.listEntities<{ summary: string }>({ queryOptions: { filter } })) {
        if (runs.length === options.limit) return { runs, nextCursor: Buffer.from(lastRowKey, "utf8").toString("base64url") };
        runs.push(JSON.parse(entity.summary) as S);
        lastRowKey = String(entity.rowKey);
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return { runs, nextCursor: undefined };
  }

  async listRecent(limit = 20): Promise<S[]> {
    const runs: S[] = [];
    try {
      const filter = `PartitionKey eq '${this.tenantId}'`;
      for await (const page of this.table.listEntities<{ summary: string }>({ queryOptions: { filter } }).byPage({ maxPageSize: limit })) {
        for (const entity of page) {
          runs.push(JSON.parse(entity.summary) as S);
          if (runs.length >= limit) return runs;
        }
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return runs;
  }
}
