// Collects a full read's writes across pages so they go out in full 100-row transactions; the checkpoint waits for the flush.
import type { ChangeEvent, ChangeSink } from "../directory/changeEvents";
import type { DirectoryStore, DirectoryTableName } from "./directoryStore";
import type { TableOperation } from "./tableWriter";

export class WriteBuffer {
  private operations = new Map<DirectoryTableName, TableOperation[]>();
  private events: ChangeEvent[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(table: DirectoryTableName, operations: readonly TableOperation[]): void {
    if (operations.length === 0) return;
    const list = this.operations.get(table) ?? [];
    list.push(...operations);
    this.operations.set(table, list);
    this.count += operations.length;
  }

  addEvents(events: readonly ChangeEvent[]): void {
    this.events.push(...events);
  }

  /** Writes everything buffered, then its change events; a crash before this ends is replayed from the last checkpoint. */
  async flush(store: DirectoryStore, changeSink: ChangeSink | undefined): Promise<void> {
    const operations = this.operations;
    const events = this.events;
    this.operations = new Map();
    this.events = [];
    this.count = 0;
    // The lookup index before the user rows it follows: a replay re-plans it from rows a crash left unwritten.
    const lookup = operations.get("userLookup");
    operations.delete("userLookup");
    if (lookup) await store.apply("userLookup", lookup);
    await Promise.all([...operations].map(([table, list]) => store.apply(table, list)));
    if (events.length > 0) await changeSink?.record(events);
  }
}
