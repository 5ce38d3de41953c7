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

export async function populateSyncedStore(tables: DirectoryTables, tenantId: string, options: PopulateStoreOptions): Promise<PopulatedStore> {
  await Promise.all(Object.values(tables).map((table) => table.createTable()));
  const writer = new TableWriter(emptyStoreMetrics(), options.concurrency ?? 16);
  const changedAt = "2026-12-01T00:00:00.000Z";
  const state = { deleted: false, deletedAt: undefined, generation: undefined, changedAt };
  const userId = (index: number) => objectIdOf(`user-${index}`);
  const groupIds = Array.from({ length: options.groups }, (_, index) => objectIdOf(`group-${index}`));
  const upsert = (key: { partitionKey: string; rowKey: string }, properties: EntityProperties): TableOperation => ({ kind: "upsert", mode: "Replace", ...key, properties });
  await writer.apply(
    tables.groups,
    groupIds.map((id, index) => upsert(tableKeys.group(tenantId, id), objectEntity(tenantId, "group", { displayName: `Group ${index}`, mailNickname: `group${index}`, securityEnabled: true, mailEnabled: false, groupTypes: "[]" }, state))),
  );
  const round = options.usersPerRound ?? 5_000;
  let memberships = 0;
  for (let start = 0; start < options.users; start += round) {
    const users: TableOperation[] = [];
    const members: TableOperation[] = [];
    const memberOf: TableOperation[] = [];
    for (let index = start; index < Math.min(options.users, start + round); index++) {
      const id = userId(index);
      const upn = `user${index}@contoso.example`;
      users.push(upsert(tableKeys.user(tenantId, id), objectEntity(tenantId, "user", { displayName: `User ${index}`, givenName: "User", surname: String(index), userPrincipalName: upn, mail: upn, accountEnabled: true, userType: "Member", department: `Department ${index % 40}` }, { ...state, roles: "[]" })));
      for (let slot = 0; slot < Math.min(options.membershipsPerUser, groupIds.length); slot++) {
        const groupId = groupIds[(index * 7 + slot * 13) % groupIds.length]!;
        members.push(upsert(tableKeys.member(tenantId, groupId, id), { memberType: "user", active: true }));
        memberOf.push(upsert(tableKeys.memberOf(tenantId, id, groupId), memberOfEntity({ memberId: id, groupId, memberType: "user", direct: true, directActive: true, inherited: false })));
        memberships++;
      }
    }
    await writer.apply(tables.users, users);
    await writer.apply(tables.members, members);
    await writer.apply(tables.memberOf, memberOf);
  }
  return { userIds: userId, groupIds, memberships };
}
