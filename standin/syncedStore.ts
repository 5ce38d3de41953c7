// Fills a tenant's directory tables directly, in the documented schema, as a finished sync would leave them: large stores for export tests and benchmarks without running the engine.
import { createHash } from "node:crypto";
import { objectEntity } from "../src/store/directoryEntities";
import { encodeMemberGroups } from "../src/store/memberGroups";
import type { DirectoryTables } from "../src/store/directoryStore";
import { tableKeys } from "../src/store/tableKeys";
import { emptyStoreMetrics, TableWriter, type EntityProperties, type TableOperation } from "../src/store/tableWriter";

export interface PopulateStoreOptions {
  users: number;
  groups: number;
  /** Direct group memberships per user; users × this is the membership count. */
  membershipsPerUser: number;
  /** Transactions in flight while writing. */
  concurrency?: number;
  /** Users written per round, so a million memberships never sit in memory at once. */
  usersPerRound?: number;
}

export interface PopulatedStore {
  userIds: (index: number) => string;
  groupIds: string[];
  memberships: number;
}

/** A GUID from a name, spread evenly over the key buckets like real object ids. */
export function objectIdOf(name: string): string {
  const hex = createHash("sha256").update(name).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** One row, keys and columns, as a finished sync writes it. */
export interface SyncedRow {
  partitionKey: string;
  rowKey: string;
  properties: EntityProperties;
}

const changedAt = "2026-12-01T00:00:00.000Z";
const objectState = { deleted: false, deletedAt: undefined, generation: undefined, changedAt };

/** The rows of a generated tenant, by index, so a store can be written or served without holding it in memory. */
export class SyncedStoreRows {
  readonly groupIds: string[];

  constructor(
    readonly tenantId: string,
    readonly options: PopulateStoreOptions,
  ) {
    this.groupIds = Array.from({ length: options.groups }, (_, index) => objectIdOf(`group-${index}`));
  }

  get membershipsPerUser(): number {
    return Math.min(this.options.membershipsPerUser, this.groupIds.length);
  }

  userId(index: number): string {
    return objectIdOf(`user-${index}`);
  }

  group(index: number): SyncedRow {
    const id = this.groupIds[index]!;
    return { ...tableKeys.group(this.tenantId, id), properties: objectEntity(this.tenantId, "group", { displayName: `Group ${index}`, mailNickname: `group${index}`, securityEnabled: true, mailEnabled: false, groupTypes: "[]" }, objectState) };
  }

  /** A user's row with its groups on it (no nesting here, so its groups are its direct ones). */
  user(index: number): SyncedRow {
    const upn = `user${index}@contoso.example`;
    const id = this.userId(index);
    const properties = { displayName: `User ${index}`, givenName: "User", surname: String(index), userPrincipalName: upn, mail: upn, accountEnabled: true, userType: "Member", department: `Department ${index % 40}` };
    const groups = [...new Set(Array.from({ length: this.membershipsPerUser }, (_, slot) => this.groupIdOf(index, slot)))].sort();
    const memberGroups = encodeMemberGroups({ groups, directGroups: groups, inactiveDirectGroups: [] }, []).columns;
    return { ...tableKeys.user(this.tenantId, id), properties: objectEntity(this.tenantId, "user", properties, { ...objectState, roles: "[]", memberGroups }) };
  }

  /** Membership `index` (user index / per user, slot index % per user) as its Members row. */
  membership(index: number): { member: SyncedRow } {
    const user = Math.floor(index / this.membershipsPerUser);
    const groupId = this.groupIdOf(user, index % this.membershipsPerUser);
    return { member: { ...tableKeys.member(this.tenantId, groupId, this.userId(user)), properties: { memberType: "user", active: true } } };
  }

  private groupIdOf(user: number, slot: number): string {
    return this.groupIds[(user * 7 + slot * 13) % this.groupIds.length]!;
  }

  get memberships(): number {
    return this.options.users * this.membershipsPerUser;
  }
}

export async function populateSyncedStore(tables: DirectoryTables, tenantId: string, options: PopulateStoreOptions): Promise<PopulatedStore> {
  await Promise.all([tables.users, tables.groups, tables.devices, tables.members, tables.memberGroups, tables.memberGroupsOverflow, tables.nesting, tables.userLookup].map((table) => table.createTable()));
  const writer = new TableWriter(emptyStoreMetrics(), options.concurrency ?? 16);
  const rows = new SyncedStoreRows(tenantId, options);
  const upsert = (row: SyncedRow): TableOperation => ({ kind: "upsert", mode: "Replace", ...row });
  await writer.apply(tables.groups, rows.groupIds.map((_, index) => upsert(rows.group(index))));
  const round = options.usersPerRound ?? 5_000;
  for (let start = 0; start < options.users; start += round) {
    const end = Math.min(options.users, start + round);
    const users: TableOperation[] = [];
    const members: TableOperation[] = [];
    for (let index = start; index < end; index++) users.push(upsert(rows.user(index)));
    for (let index = start * rows.membershipsPerUser; index < end * rows.membershipsPerUser; index++) {
      members.push(upsert(rows.membership(index).member));
    }
    await writer.apply(tables.users, users);
    await writer.apply(tables.members, members);
  }
  return { userIds: (index) => rows.userId(index), groupIds: rows.groupIds, memberships: rows.memberships };
}
