// The storage port over Azure Table Storage (or Azurite): point reads, paged queries, and batched writes through TableWriter.
import type { TableClient } from "@azure/data-tables";
import type { ListRowsOptions, TableRow, TableStore } from "./tableStore";
import { statusOf, TableWriter, type StoreMetrics, type TableOperation } from "./tableWriter";

/** Table Storage returns at most 1,000 entities per query page (Query Entities, REST reference). */
const maxPageSize = 1000;

export interface OpenAzureTableOptions {
  metrics: StoreMetrics;
  /** Transactions in flight at once. */
  writeConcurrency: number;
}

export class AzureTable implements TableStore {
  private readonly writer: TableWriter;
  readonly metrics: StoreMetrics;

  constructor(
    private readonly client: TableClient,
    options: OpenAzureTableOptions,
  ) {
    this.metrics = options.metrics;
    this.writer = new TableWriter(options.metrics, options.writeConcurrency);
  }

  get name(): string {
    return this.client.tableName;
  }

  async createTable(): Promise<void> {
    // 409 "already exists" is the normal answer after the first run; the SDK swallows it.
    await this.client.createTable();
  }

  async getRow(partitionKey: string, rowKey: string): Promise<TableRow | undefined> {
    try {
      this.metrics.entitiesRead++;
      return (await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey)) as TableRow;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async *listRows(options: ListRowsOptions = {}): AsyncIterable<TableRow> {
    let count = 0;
    const pageSize = Math.min(maxPageSize, options.limit ?? maxPageSize);
    for await (const page of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: options.filter, select: options.select } }).byPage({ maxPageSize: pageSize })) {
      this.metrics.queries++;
      for (const entity of page) {
        this.metrics.entitiesRead++;
        yield entity as TableRow;
        if (options.limit !== undefined && ++count >= options.limit) return;
      }
    }
  }

  async apply(operations: readonly TableOperation[]): Promise<void> {
    await this.writer.apply(this.client, operations);
  }
}
