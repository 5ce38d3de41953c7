// The storage port of the sync core: one table of rows, addressed by PartitionKey and RowKey, queried with Table Storage's OData filters.
import type { StoreMetrics, TableOperation } from "./tableWriter";

/** A stored row: its keys (`partitionKey`, `rowKey`) and its properties, as the Azure SDK returns them. */
export type TableRow = Record<string, unknown> & { partitionKey: string; rowKey: string };

export interface ListRowsOptions {
  /** An OData filter of the subset the core uses: eq, ne, lt, le, gt, ge over strings and booleans, and/or, parentheses. */
  filter?: string;
  /** Properties to return (the keys only when named: `PartitionKey`, `RowKey`); without it, every property. */
  select?: string[];
  /** Stop after this many rows. */
  limit?: number;
}

/**
 * What the core needs of one table. Rows are listed in key order (PartitionKey, then RowKey), as Table Storage returns them;
 * operations on one row are applied in order, a Merge upsert onto earlier properties, a delete of a missing row is no error.
 */
export interface TableStore {
  /** The table's name, for error messages. */
  readonly name: string;
  /** Creates the table if it does not exist. */
  createTable(): Promise<void>;
  getRow(partitionKey: string, rowKey: string): Promise<TableRow | undefined>;
  listRows(options?: ListRowsOptions): AsyncIterable<TableRow>;
  apply(operations: readonly TableOperation[]): Promise<void>;
  /** Reads and writes counted so far (a run reports the difference). */
  readonly metrics: StoreMetrics;
}

/** Opens the table of a given name; the one place a deployment decides what backs its tables. */
export type TableOpener = (tableName: string) => TableStore;
