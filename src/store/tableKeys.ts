// Builds PartitionKey and RowKey values that Table Storage accepts and that keep tenants apart.

/** Characters Table Storage forbids in keys: / \ # ? and the control ranges. */
const forbiddenKeyCharacters = /[\/\\#?\u0000-\u001f\u007f-\u009f]/;
/** Keys are limited to 1 KiB (Table service data model). */
const maxKeyLength = 1024;

export class InvalidKeyError extends Error {
  override name = "InvalidKeyError";
}

export { isObjectId } from "../common/objectId";

export function assertSafeKey(key: string): string {
  if (key.length === 0 || key.length > maxKeyLength || forbiddenKeyCharacters.test(key)) {
    throw new InvalidKeyError(`Not a valid Table Storage key: ${JSON.stringify(key.slice(0, 80))}`);
  }
  return key;
}

/** Spreads a tenant's users and groups over 256 partitions by the id's first two hex digits: small partitions keep writes fast. */
export function bucketOf(objectId: string): string {
  return objectId.slice(0, 2);
}

/** A member's quarter of a group's Members partitions, from its id's first hex digit. */
function memberBucket(memberId: string): string {
  return String(Math.floor(parseInt(memberId.charAt(0), 16) / 4));
}

/** Keys for each table; every PartitionKey starts with the tenant id, so tenants share tables safely. */
export const tableKeys = {
  user: (tenantId: string, userId: string) => ({ partitionKey: `${tenantId}_${bucketOf(userId)}`, rowKey: userId }),
  group: (tenantId: string, groupId: string) => ({ partitionKey: `${tenantId}_${bucketOf(groupId)}`, rowKey: groupId }),
  device: (tenantId: string, deviceId: string) => ({ partitionKey: `${tenantId}_${bucketOf(deviceId)}`, rowKey: deviceId }),
  // 4 partitions per group by the member id's first hex digit (0-3, 4-7, 8-b, c-f): a 100,000-member group is no single hot partition, and a small group's rows still batch.
  member: (tenantId: string, groupId: string, memberId: string) => ({ partitionKey: `${tenantId}_${groupId}_${memberBucket(memberId)}`, rowKey: memberId }),
  memberGroups: (tenantId: string, memberId: string) => ({ partitionKey: `${tenantId}_${bucketOf(memberId)}`, rowKey: memberId }),
  // One partition per overflowing member, so its lists come back in one query.
  memberGroupsOverflow: (tenantId: string, memberId: string, rowKey: string) => ({ partitionKey: `${tenantId}_${memberId}`, rowKey }),
  /** Keys of schema version 2's by-member table, kept only to recognise and empty it. */
  legacyMemberOf: (tenantId: string, memberId: string, groupId: string) => ({ partitionKey: `${tenantId}_${memberId.slice(0, 3)}`, rowKey: `${memberId}_${groupId}` }),
  nesting: (tenantId: string, childId: string, parentId: string) => ({ partitionKey: tenantId, rowKey: `${childId}_${parentId}` }),
  syncState: (tenantId: string, name: string) => ({ partitionKey: tenantId, rowKey: name }),
} as const;

/** OData filter for every partition of a tenant in a table keyed `${tenantId}_...`. */
export function tenantPartitionRange(tenantId: string): string {
  // "`" is the character after "_", so the range covers exactly the keys that start with `${tenantId}_`.
  return `PartitionKey ge '${tenantId}_' and PartitionKey lt '${tenantId}\`'`;
}


/** OData filter for one group's rows of the Members table: its 16 partitions. */
export function membersRange(tenantId: string, groupId: string): string {
  return `PartitionKey ge '${tenantId}_${groupId}_' and PartitionKey lt '${tenantId}_${groupId}\`'`;
}

/** Parses the group id back out of a Members partition key `${tenantId}_${groupId}_${bucket}`. */
export function groupIdFromMembersPartition(tenantId: string, partitionKey: string): string {
  return partitionKey.slice(tenantId.length + 1, partitionKey.lastIndexOf("_"));
}
