// The storage port in memory: the same rows, order and filter answers as Table Storage, for fast tests of the core.
import { compileFilter } from "./odataFilter";
import type { ListRowsOptions, TableOpener, TableRow, TableStore } from "./tableStore";
import { emptyStoreMetrics, type StoreMetrics, type TableOperation } from "./tableWriter";

export class MemoryTable implements TableStore {
  /** Rows by `partitionKey\u0000rowKey`; sorted when listed, as Table Storage lists in key order. */
  private readonly rows = new Map<string, TableRow>();
  readonly metrics: StoreMetrics = emptyStoreMetrics();

  constructor(readonly name: string) {}

  async createTable(): Promise<void> {}

  async getRow(partitionKey: string, rowKey: string): Promise<TableRow | undefined> {
    this.metrics.entitiesRead++;
    const row = this.rows.get(rowId(partitionKey, rowKey));
    return row && { ...row };
  }

  async *listRows(options: ListRowsOptions = {}): AsyncIterable<TableRow> {
    this.metrics.queries++;
    const matches = compileFilter(options.filter);
    let count = 0;
    for (const row of sortedRows(this.rows.values())) {
      if (!matches(row)) continue;
      this.metrics.entitiesRead++;
      yield project(row, options.select);
      if (options.limit !== undefined && ++count >= options.limit) return;
    }
  }

  async apply(operations: readonly TableOperation[]): Promise<void> {
    for (const operation of operations) {
      this.metrics.transactions++;
      const id = rowId(operation.partitionKey, operation.rowKey);
      if (operation.kind === "delete") {
        if (this.rows.delete(id)) this.metrics.entitiesDeleted++;
        continue;
      }
      this.metrics.entitiesWritten++;
      const base = operation.mode === "Merge" ? (this.rows.get(id) ?? {}) : {};
      this.rows.set(id, applyUpsert(base, operation));
    }
  }
}

/** Opens in-memory tables, one per name, so a composition can reopen a table and see what was written. */
export function memoryTableOpener(): TableOpener {
  const tables = new Map<string, MemoryTable>();
  return (name) => {
    let table = tables.get(name);
    if (!table) tables.set(name, (table = new MemoryTable(name)));
    return table;
  };
}

export function rowId(partitionKey: string, rowKey: string): string {
  return `${partitionKey}\u0000${rowKey}`;
}

/** Key order: PartitionKey, then RowKey, compared as Table Storage does (ordinal). */
export function compareRows(a: TableRow, b: TableRow): number {
  if (a.partitionKey !== b.partitionKey) return a.partitionKey < b.partitionKey ? -1 : 1;
  return a.rowKey === b.rowKey ? 0 : a.rowKey < b.rowKey ? -1 : 1;
}

export function sortedRows(rows: Iterable<TableRow>): TableRow[] {
  return [...rows].sort(compareRows);
}

/** An upsert's row: Table Storage stores no null, so a null or undefined property is absent. */
export function applyUpsert(base: Record<string, unknown>, operation: Extract<TableOperation, { kind: "upsert" }>): TableRow {
  const row: Record<string, unknown> = { ...base, partitionKey: operation.partitionKey, rowKey: operation.rowKey };
  for (const [name, value] of Object.entries(operation.properties)) {
    if (value === null || value === undefined) delete row[name];
    else row[name] = value;
  }
  return row as TableRow;
}

/** Only the properties selected, as Table Storage answers: the keys too only when named (`PartitionKey`, `RowKey`). */
export function project(row: TableRow, select: string[] | undefined): TableRow {
  if (!select) return { ...row };
  const projected: Record<string, unknown> = {};
  for (const name of select) {
    const property = name === "PartitionKey" ? "partitionKey" : name === "RowKey" ? "rowKey" : name;
    if (property in row) projected[property] = row[property];
  }
  return projected as TableRow;
}
