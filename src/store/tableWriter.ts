// Turns entity writes into entity group transactions per partition, runs them concurrently, and counts them.
import type { TableClient, TableEntity, TransactionAction } from "@azure/data-tables";
import { forEachConcurrently } from "../common/concurrency";

/** An entity group transaction holds at most 100 operations (Table service data model). */
export const maxOperationsPerTransaction = 100;

export type EntityProperties = Record<string, string | number | boolean | null | undefined>;

export type TableOperation =
  | { kind: "upsert"; mode: "Merge" | "Replace"; partitionKey: string; rowKey: string; properties: EntityProperties }
  | { kind: "delete"; partitionKey: string; rowKey: string };

/** Counters a run reports: what it cost Table Storage. */
export interface StoreMetrics {
  transactions: number;
  entitiesWritten: number;
  entitiesDeleted: number;
  entitiesRead: number;
  queries: number;
}

export function emptyStoreMetrics(): StoreMetrics {
  return { transactions: 0, entitiesWritten: 0, entitiesDeleted: 0, entitiesRead: 0, queries: 0 };
}

export interface WriteOptions {
  concurrency?: number;
}

export class TableWriter {
  constructor(
    private readonly metrics: StoreMetrics,
    private readonly defaultConcurrency: number,
  ) {}

  /** Applies operations to one table; later operations on the same entity replace earlier ones. */
  async apply(table: TableClient, operations: readonly TableOperation[], options: WriteOptions = {}): Promise<void> {
    if (operations.length === 0) return;
    const partitions = new Map<string, Map<string, TableOperation>>();
    for (const operation of operations) {
      let rows = partitions.get(operation.partitionKey);
      if (!rows) partitions.set(operation.partitionKey, (rows = new Map()));
      const earlier = rows.get(operation.rowKey);
      rows.set(operation.rowKey, combine(earlier, operation));
    }
    const chunks: TableOperation[][] = [];
    for (const rows of partitions.values()) {
      const all = [...rows.values()];
      for (let start = 0; start < all.length; start += maxOperationsPerTransaction) {
        chunks.push(all.slice(start, start + maxOperationsPerTransaction));
      }
    }
    await forEachConcurrently(chunks, options.concurrency ?? this.defaultConcurrency, (chunk) => this.submit(table, chunk));
  }

  private async submit(table: TableClient, chunk: TableOperation[]): Promise<void> {
    if (chunk.length === 1) {
      await this.single(table, chunk[0]!);
      return;
    }
    try {
      this.metrics.transactions++;
      await table.submitTransaction(chunk.map(toAction));
      this.count(chunk);
    } catch (error) {
      // A delete of a missing entity fails the whole transaction; replays must tolerate that, so retry one by one.
      if (statusOf(error) !== 404) throw withTable(error, table);
      for (const operation of chunk) await this.single(table, operation);
    }
  }

  private async single(table: TableClient, operation: TableOperation): Promise<void> {
    this.metrics.transactions++;
    try {
      if (operation.kind === "delete") {
        await table.deleteEntity(operation.partitionKey, operation.rowKey);
      } else {
        await table.upsertEntity(toEntity(operation), operation.mode);
      }
      this.count([operation]);
    } catch (error) {
      // Deleting what is already gone is the expected answer on a replay.
      if (operation.kind === "delete" && statusOf(error) === 404) return;
      throw withTable(error, table);
    }
  }

  private count(operations: TableOperation[]): void {
    for (const operation of operations) {
      if (operation.kind === "delete") this.metrics.entitiesDeleted++;
      else this.metrics.entitiesWritten++;
    }
  }
}

function combine(earlier: TableOperation | undefined, later: TableOperation): TableOperation {
  if (earlier?.kind === "upsert" && later.kind === "upsert" && later.mode === "Merge") {
    return { ...earlier, properties: { ...earlier.properties, ...later.properties } };
  }
  return later;
}

function toEntity(operation: Extract<TableOperation, { kind: "upsert" }>): TableEntity {
  const entity: TableEntity = { partitionKey: operation.partitionKey, rowKey: operation.rowKey };
  for (const [name, value] of Object.entries(operation.properties)) {
    // Table Storage has no null: an absent property is how a cleared value is stored.
    if (value !== null && value !== undefined) entity[name] = value;
  }
  return entity;
}

function toAction(operation: TableOperation): TransactionAction {
  return operation.kind === "delete"
    ? ["delete", { partitionKey: operation.partitionKey, rowKey: operation.rowKey }]
    : ["upsert", toEntity(operation), operation.mode];
}

export function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error ? Number((error as { statusCode: unknown }).statusCode) : undefined;
}

function withTable(error: unknown, table: TableClient): unknown {
  if (error instanceof Error && !error.message.includes(table.tableName)) {
    error.message = `Table ${table.tableName}: ${error.message}`;
  }
  return error;
}
