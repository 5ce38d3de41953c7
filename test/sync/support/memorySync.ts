// The real engine over in-memory tables and a scripted delta source: the core's planning tested in milliseconds, without Azurite or Graph.
import type { ChangeSink } from "../../../src/directory/changeEvents";
import type { StreamName } from "../../../src/directory/directoryObjects";
import type { DeltaCursor, DeltaPage, DeltaSource } from "../../../src/graph/graphDeltaReader";
import { createLogger } from "../../../src/logging/logger";
import { ScopePolicy, defaultScope, type ScopeSettings } from "../../../src/policy/scopePolicy";
import { DirectoryStore, directoryTableNamesList, type DirectoryTableStores } from "../../../src/store/directoryStore";
import { memoryTableOpener } from "../../../src/store/memoryTable";
import { RunLog } from "../../../src/store/runLog";
import { SyncStateStore } from "../../../src/store/syncStateStore";
import { emptyStoreMetrics } from "../../../src/store/tableWriter";
import { SyncEngine, type SyncEngineDependencies } from "../../../src/sync/syncEngine";

/** A directory as Graph's delta would show it: whole objects on a full read, queued changes on the next incremental one. */
export class ScriptedDirectory implements DeltaSource {
  readonly users = new Map<string, Record<string, unknown>>();
  readonly groups = new Map<string, Record<string, unknown> & { members: Set<string> }>();
  readonly deletedUsers = new Set<string>();
  /** Every change in order; a delta link is a position in it, so reading the same link twice gives the same changes, as in Graph. */
  private readonly log: Array<{ stream: StreamName; object: Record<string, unknown> }> = [];
  private nextId = 1;
  /** Objects per delta page; a smaller page lets a run with a deadline pause between pages. */
  pageSize = Number.POSITIVE_INFINITY;

  id(): string {
    return `00000000-0000-4000-8000-${String(this.nextId++).padStart(12, "0")}`;
  }

  addUser(name: string, extra: Record<string, unknown> = {}): string {
    const id = this.id();
    const user = { id, displayName: name, userPrincipalName: `${name.toLowerCase().replace(/\W+/g, ".")}@contoso.com`, accountEnabled: true, userType: "Member", ...extra };
    this.users.set(id, user);
    this.change("users", user);
    return id;
  }

  addGroup(name: string, memberIds: string[] = [], kind: "security" | "microsoft365" = "security"): string {
    const id = this.id();
    const properties = kind === "security" ? { securityEnabled: true, mailEnabled: false, groupTypes: [] } : { securityEnabled: false, mailEnabled: true, groupTypes: ["Unified"] };
    this.groups.set(id, { id, displayName: name, ...properties, members: new Set(memberIds) });
    this.change("groups", this.groupObject(id, memberIds.map((memberId) => ({ memberId }))));
    return id;
  }

  renameGroup(id: string, displayName: string): void {
    this.groups.get(id)!.displayName = displayName;
    this.change("groups", { id, displayName });
  }

  addMember(groupId: string, memberId: string): void {
    this.groups.get(groupId)!.members.add(memberId);
    this.change("groups", this.groupObject(groupId, [{ memberId }]));
  }

  removeMember(groupId: string, memberId: string): void {
    this.groups.get(groupId)!.members.delete(memberId);
    this.change("groups", this.groupObject(groupId, [{ memberId, removed: true }]));
  }

  softDeleteUser(id: string): void {
    this.users.delete(id);
    this.deletedUsers.add(id);
    this.change("users", { id, "@removed": { reason: "changed" } });
  }

  async readPage(stream: StreamName, cursor: DeltaCursor): Promise<DeltaPage> {
    const deltaLink = `https://graph.test/v1.0/${stream}/delta?$deltatoken=${this.log.length}`;
    const url = new URL(cursor.kind === "initial" ? `https://graph.test/v1.0/${stream}/delta?$initial=true` : cursor.url);
    const since = url.searchParams.get("$deltatoken");
    const objects = since === null ? this.everything(stream) : this.log.slice(Number(since)).filter((entry) => entry.stream === stream).map((entry) => entry.object);
    const skip = Number(url.searchParams.get("$skip") ?? 0);
    if (skip + this.pageSize >= objects.length) return { objects: objects.slice(skip), nextLink: undefined, deltaLink };
    url.searchParams.set("$skip", String(skip + this.pageSize));
    return { objects: objects.slice(skip, skip + this.pageSize), nextLink: url.toString(), deltaLink: undefined };
  }

  private change(stream: StreamName, object: Record<string, unknown>): void {
    this.log.push({ stream, object: structuredClone(object) });
  }

  async readByIds(stream: StreamName, ids: readonly string[]): Promise<Array<Record<string, unknown>>> {
    const source = stream === "users" ? this.users : this.groups;
    return ids.flatMap((id) => {
      const object = source.get(id);
      return object ? [stream === "groups" ? this.groupObject(id, [...this.groups.get(id)!.members].map((memberId) => ({ memberId }))) : object] : [];
    });
  }

  async listDeletedIds(kind: "users" | "groups"): Promise<Set<string> | undefined> {
    return kind === "users" ? new Set(this.deletedUsers) : undefined;
  }

  private everything(stream: StreamName): Array<Record<string, unknown>> {
    if (stream === "users") return [...this.users.values()];
    if (stream === "groups") return [...this.groups.keys()].map((id) => this.groupObject(id, [...this.groups.get(id)!.members].map((memberId) => ({ memberId }))));
    return [];
  }

  private groupObject(id: string, members: Array<{ memberId: string; removed?: boolean }>): Record<string, unknown> {
    const { members: _members, ...group } = this.groups.get(id)!;
    const membersDelta = members.map(({ memberId, removed }) => ({ "@odata.type": this.groups.has(memberId) ? "#microsoft.graph.group" : "#microsoft.graph.user", id: memberId, ...(removed ? { "@removed": { reason: "deleted" } } : {}) }));
    return { ...group, "members@delta": membersDelta };
  }
}

export interface MemorySync {
  directory: ScriptedDirectory;
  store: DirectoryStore;
  state: SyncStateStore;
  engine(options?: { scope?: Partial<ScopeSettings>; deletionThreshold?: SyncEngineDependencies["deletionThreshold"]; changeSink?: ChangeSink }): SyncEngine;
}

const tenantId = "99999999-9999-4999-8999-999999999999";

/** A tenant in memory: every engine built from it shares the same tables, as successive runs of one deployment do. */
export function memorySync(): MemorySync {
  const open = memoryTableOpener();
  const metrics = emptyStoreMetrics();
  const tables = Object.fromEntries(directoryTableNamesList.map((name) => [name, open(name)])) as unknown as DirectoryTableStores;
  const store = new DirectoryStore({ tables, tenantId, metrics });
  const state = new SyncStateStore(open("syncState"), tenantId);
  const directory = new ScriptedDirectory();
  const runLog = { ensureTable: async () => undefined, save: async () => undefined } as unknown as RunLog<never>;
  const logger = createLogger(() => undefined, {}, "error");
  return {
    directory,
    store,
    state,
    engine: (options = {}) =>
      new SyncEngine({ tenantId, source: directory, store, state, runLog, logger, scope: new ScopePolicy({ ...defaultScope, ...options.scope }), deletionThreshold: options.deletionThreshold ?? { count: 500, percent: 0 }, writeBufferOperations: 1, changeSink: options.changeSink }),
  };
}
