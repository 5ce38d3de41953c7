// Maps users, groups and memberships to the Table Storage entities documented in docs/schema.md.
import { createHash } from "node:crypto";
import {
  groupKindOf,
  groupPropertyNames,
  devicePropertyNames,
  type DeviceProperties,
  userPropertyNames,
  type GroupProperties,
  type MemberType,
  type UserProperties,
} from "../directory/directoryObjects";
import { memberGroupsColumns, memberGroupsColumnsOf, type MemberGroupsColumns } from "./memberGroups";
import type { EntityProperties } from "./tableWriter";

/** A stored user or group row: the directory's properties plus the engine's bookkeeping. */
export interface StoredObject {
  id: string;
  properties: Record<string, string | boolean | null>;
  deleted: boolean;
  deletedAt: string | undefined;
  hash: string | undefined;
  generation: string | undefined;
  /** A user's effective roles (ROLE_MAPPING) as JSON text; derived by the closure, carried over by every rewrite. */
  roles: string | undefined;
  /** Marked deleted because the user left the sync scope (it still exists in Entra): only coming back into scope restores it. */
  outOfScope: boolean;
  /** The member's groups as stored on its row (src/store/memberGroups.ts); derived by the closure, carried over by every rewrite. */
  memberGroups?: MemberGroupsColumns;
}

/** Hash of the stored content, so a write happens only when something a consumer can see changed. */
export function contentHash(properties: Record<string, unknown>, deleted: boolean): string {
  // Absent and null are the same once stored (Table Storage has no null), so neither takes part in the hash.
  const present = Object.keys(properties).filter((name) => properties[name] !== null && properties[name] !== undefined);
  const canonical = JSON.stringify(present.sort().map((name) => [name, properties[name]]).concat([["deleted", deleted]]));
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 22);
}

/** Turns delta properties (arrays included) into flat entity values. */
export function flattenUserProperties(properties: Partial<UserProperties>): Record<string, string | boolean | null> {
  const flat: Record<string, string | boolean | null> = {};
  for (const name of userPropertyNames) if (name in properties) flat[name] = properties[name] ?? null;
  return flat;
}

export function flattenDeviceProperties(properties: Partial<DeviceProperties>): Record<string, string | boolean | null> {
  const flat: Record<string, string | boolean | null> = {};
  for (const name of devicePropertyNames) if (name in properties) flat[name] = properties[name] ?? null;
  return flat;
}

export function flattenGroupProperties(properties: Partial<GroupProperties>): Record<string, string | boolean | null> {
  const flat: Record<string, string | boolean | null> = {};
  for (const name of groupPropertyNames) {
    if (!(name in properties)) continue;
    const value = properties[name];
    // Table Storage has no array type, so groupTypes is stored as JSON text.
    flat[name] = Array.isArray(value) ? JSON.stringify(value) : (value ?? null);
  }
  return flat;
}

/** Properties derived from a group's own, stored for consumers' convenience. */
export function groupDerived(flat: Record<string, string | boolean | null>): Record<string, string> {
  const groupTypes = typeof flat.groupTypes === "string" ? (JSON.parse(flat.groupTypes) as string[]) : null;
  return {
    kind: groupKindOf({
      groupTypes,
      mailEnabled: typeof flat.mailEnabled === "boolean" ? flat.mailEnabled : null,
      securityEnabled: typeof flat.securityEnabled === "boolean" ? flat.securityEnabled : null,
    }),
  };
}

const bookkeeping = new Set(["partitionKey", "rowKey", "etag", "timestamp", "odata.etag", "Timestamp", "deleted", "deletedAt", "hash", "gen", "changedAt", "kind", "tenantId", "objectType", "roles", "deletedReason", ...memberGroupsColumns]);

export function storedObjectFrom(entity: Record<string, unknown>): StoredObject {
  const properties: Record<string, string | boolean | null> = {};
  for (const [name, value] of Object.entries(entity)) {
    if (bookkeeping.has(name) || name.startsWith("odata.")) continue;
    if (typeof value === "string" || typeof value === "boolean") properties[name] = value;
  }
  return {
    id: String(entity.rowKey),
    properties,
    deleted: entity.deleted === true,
    deletedAt: typeof entity.deletedAt === "string" ? entity.deletedAt : undefined,
    hash: typeof entity.hash === "string" ? entity.hash : undefined,
    generation: typeof entity.gen === "string" ? entity.gen : undefined,
    roles: typeof entity.roles === "string" ? entity.roles : undefined,
    outOfScope: entity.deleted === true && entity.deletedReason === "outOfScope",
    memberGroups: memberGroupsColumnsOf(entity),
  };
}

/** Builds the full entity body of a user or group (Replace semantics: absent means cleared). */
export function objectEntity(
  tenantId: string,
  objectType: "user" | "group" | "device",
  properties: Record<string, string | boolean | null>,
  state: { deleted: boolean; deletedAt: string | undefined; generation: string | undefined; changedAt: string; roles?: string | undefined; outOfScope?: boolean; memberGroups?: MemberGroupsColumns },
): EntityProperties {
  const derived = objectType === "group" ? groupDerived(properties) : {};
  return {
    ...properties,
    ...derived,
    tenantId,
    deleted: state.deleted,
    deletedAt: state.deletedAt,
    deletedReason: state.deleted ? (state.outOfScope ? "outOfScope" : "directory") : undefined,
    hash: contentHash(properties, state.deleted),
    gen: state.generation,
    changedAt: state.changedAt,
    roles: state.roles,
    ...(state.memberGroups as EntityProperties | undefined),
  };
}

/** The row of a stored object marked deleted: soft-deleted in Entra, not found by a full read, or gone out of the scope. */
export function softDeletedEntity(tenantId: string, objectType: "user" | "group" | "device", stored: StoredObject, options: { at: string; outOfScope?: boolean }): EntityProperties {
  return objectEntity(tenantId, objectType, stored.properties, { deleted: true, deletedAt: options.at, generation: stored.generation ?? "", changedAt: options.at, roles: stored.roles, outOfScope: options.outOfScope, memberGroups: stored.memberGroups });
}
