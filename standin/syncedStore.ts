// Fills a tenant's directory tables directly, in the documented schema, as a finished sync would leave them: large stores for export tests and benchmarks without running the engine.
import { createHash } from "node:crypto";
import { memberOfEntity, objectEntity } from "../src/store/directoryEntities";
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

  user(index: number): SyncedRow {
    const upn = `user${index}@contoso.example`;
    const properties = { displayName: `User ${index}`, givenName: "User", surname: String(index), userPrincipalName: upn, mail: upn, accountEnabled: true, userType: "Member", department: `Department ${index % 40}` };
    return { ...tableKeys.user(this.tenantId, this.userId(index)), properties: objectEntity(this.tenantId, "user", properties, { ...objectState, roles: "[]" }) };
  }

  /** Membership `index` (user index / per user, slot index % per user) as its Members and MemberOf rows. */
  membership(index: number): { member: SyncedRow; memberOf: SyncedRow } {
    const user = Math.floor(index / this.membershipsPerUser);
    const slot = index % this.membershipsPerUser;
    const id = this.userId(user);
    const groupId = this.groupIds[(user * 7 + slot * 13) % this.groupIds.length]!;
    return {
      member: { ...tableKeys.member(this.tenantId, groupId, id), properties: { memberType: "user", active: true } },
      memberOf: { ...tableKeys.memberOf(this.tenantId, id, groupId), properties: memberOfEntity({ memberId: id, groupId, memberType: "user", direct: true, directActive: true, inherited: false }) },
    };
  }

  get memberships(): number {
    return this.options.users * this.membershipsPerUser;
  }
}

export async function populateSyncedStore(tables: DirectoryTables, tenantId: string, options: PopulateStoreOptions): Promise<PopulatedStore> {
  await Promise.all(Object.values(tables).map((table) => table.createTable()));
  const writer = new TableWriter(emptyStoreMetrics(), options.concurrency ?? 16);
  const rows = new SyncedStoreRows(tenantId, options);
  const upsert = (row: SyncedRow): TableOperation => ({ kind: "upsert", mode: "Replace", ...row });
  await writer.apply(tables.groups, rows.groupIds.map((_, index) => upsert(rows.group(index))));
  const round = options.usersPerRound ?? 5_000;
  for (let start = 0; start < options.users; start += round) {
    const end = Math.min(options.users, start + round);
    const users: TableOperation[] = [];
    const members: TableOperation[] = [];
    const memberOf: TableOperation[] = [];
    for (let index = start; index < end; index++) users.push(upsert(rows.user(index)));
    for (let index = start * rows.membershipsPerUser; index < end * rows.membershipsPerUser; index++) {
      const membership = rows.membership(index);
      members.push(upsert(membership.member));
      memberOf.push(upsert(membership.memberOf));
    }
    await writer.apply(tables.users, users);
    await writer.apply(tables.members, members);
    await writer.apply(tables.memberOf, memberOf);
  }
  return { userIds: (index) => rows.userId(index), groupIds: rows.groupIds, memberships: rows.memberships };
}
