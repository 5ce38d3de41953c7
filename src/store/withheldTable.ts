// A table whose writes are withheld: they are kept in memory and every later read sees them, while the table behind is only read (a dry run).
import { applyUpsert, compareRows, project, rowId, sortedRows } from "./memoryTable";
import { compileFilter } from "./odataFilter";
import type { ListRowsOptions, TableRow, TableStore } from "./tableStore";
import { emptyStoreMetrics, type StoreMetrics, type TableOperation } from "./tableWriter";

/** A row the withheld writes deleted. */
const deleted = Symbol("deleted");

export class WithheldTable implements TableStore {
  private readonly written = new Map<string, TableRow | typeof deleted>();
  /** The writes that were withheld, counted as the real table would have counted them. */
  readonly withheld: StoreMetrics = emptyStoreMetrics();

  constructor(private readonly base: TableStore) {}

  get name(): string {
    return this.base.name;
  }

  /** Reads reach the table behind and count there; writes never do. */
  get metrics(): StoreMetrics {
    return this.base.metrics;
  }

  async createTable(): Promise<void> {}

  async getRow(partitionKey: string, rowKey: string): Promise<TableRow | undefined> {
    const written = this.written.get(rowId(partitionKey, rowKey));
    if (written === deleted) return undefined;
    return written ? { ...written } : await this.base.getRow(partitionKey, rowKey);
  }

  /** The table behind's rows with the withheld writes laid over them, still in key order. */
  async *listRows(options: ListRowsOptions = {}): AsyncIterable<TableRow> {
    const matches = compileFilter(options.filter);
    const extra = sortedRows([...this.written.values()].filter((row): row is TableRow => row !== deleted && matches(row)));
    let next = 0;
    let count = 0;
    const limited = () => options.limit !== undefined && ++count >= options.limit;
    // The keys are asked for too, to lay the withheld rows over the table's in key order.
    const select = options.select && [...options.select, "PartitionKey", "RowKey"];
    for await (const found of this.base.listRows({ filter: options.filter, select })) {
      const row = options.select ? { ...project(found, options.select), partitionKey: found.partitionKey, rowKey: found.rowKey } : found;
      while (next < extra.length && compareRows(extra[next]!, row) < 0) {
        yield project(extra[next++]!, options.select);
        if (limited()) return;
      }
      const written = this.written.get(rowId(row.partitionKey, row.rowKey));
      if (written === undefined) yield options.select ? project(row, options.select) : row;
      else if (written === deleted || !matches(written)) continue;
      else if (next < extra.length && compareRows(extra[next]!, row) === 0) yield project(extra[next++]!, options.select);
      else continue;
      if (limited()) return;
    }
    for (; next < extra.length; next++) {
      yield project(extra[next]!, options.select);
      if (limited()) return;
    }
  }

  async apply(operations: readonly TableOperation[]): Promise<void> {
    for (const operation of operations) {
      const id = rowId(operation.partitionKey, operation.rowKey);
      if (operation.kind === "delete") {
        this.withheld.entitiesDeleted++;
        this.written.set(id, deleted);
        continue;
      }
      this.withheld.entitiesWritten++;
      const earlier = this.written.get(id);
      const base = operation.mode === "Replace" ? {} : earlier === deleted ? {} : (earlier ?? (await this.base.getRow(operation.partitionKey, operation.rowKey)) ?? {});
      this.written.set(id, applyUpsert(stripService(base), operation));
    }
  }
}

/** Properties the service adds to a returned entity (etag, timestamp) are not part of a row written back. */
function stripService(row: Record<string, unknown>): Record<string, unknown> {
  const { etag: _etag, timestamp: _timestamp, ...rest } = row;
  return rest;
}
