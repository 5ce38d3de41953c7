// Turns raw Graph delta objects into the engine's provider-neutral changes, dropping what cannot be stored safely.
import {
  groupPropertyNames,
  userPropertyNames,
  type GroupPageChanges,
  type GroupProperties,
  type MemberType,
  type ObjectChange,
  type UserProperties,
  devicePropertyNames,
  type DeviceProperties,
} from "../directory/directoryObjects";
import { isObjectId } from "../common/objectId";

const memberTypes: Record<string, MemberType> = {
  "#microsoft.graph.user": "user",
  "#microsoft.graph.group": "group",
  "#microsoft.graph.device": "device",
  "#microsoft.graph.servicePrincipal": "servicePrincipal",
  "#microsoft.graph.orgContact": "orgContact",
};

export interface ParsedPage<T> {
  changes: T;
  warnings: string[];
}

function removalOf(object: Record<string, unknown>): ObjectChange<never> | undefined {
  const removed = object["@removed"] as { reason?: unknown } | undefined;
  if (!removed) return undefined;
  // Graph documents "changed" (restorable) and "deleted" (permanent); an unknown reason is treated as restorable, the safer choice.
  return { kind: "removed", id: String(object.id), reason: removed.reason === "deleted" ? "deleted" : "changed" };
}

function pick<P>(object: Record<string, unknown>, names: readonly (keyof P & string)[]): Partial<P> {
  const properties: Partial<P> = {};
  for (const name of names) if (name in object) (properties as Record<string, unknown>)[name] = object[name];
  return properties;
}

/** A page of a stream of plain objects (users, devices): each an upsert with the named properties, or a removal. */
function parseObjectPage<P>(objects: Array<Record<string, unknown>>, noun: string, names: readonly (keyof P & string)[]): ParsedPage<ObjectChange<P>[]> {
  const changes: ObjectChange<P>[] = [];
  const warnings: string[] = [];
  for (const object of objects) {
    if (!isObjectId(object.id)) {
      warnings.push(`Skipped a ${noun} with an id that is not a GUID: ${JSON.stringify(object.id)}`);
      continue;
    }
    changes.push(removalOf(object) ?? { kind: "upsert", id: object.id, properties: pick<P>(object, names) });
  }
  return { changes, warnings };
}

export function parseUserPage(objects: Array<Record<string, unknown>>): ParsedPage<ObjectChange<UserProperties>[]> {
  return parseObjectPage<UserProperties>(objects, "user", userPropertyNames);
}

export function parseDevicePage(objects: Array<Record<string, unknown>>): ParsedPage<ObjectChange<DeviceProperties>[]> {
  return parseObjectPage<DeviceProperties>(objects, "device", devicePropertyNames);
}

export function parseGroupPage(objects: Array<Record<string, unknown>>): ParsedPage<GroupPageChanges> {
  const groups: ObjectChange<GroupProperties>[] = [];
  const memberships: GroupPageChanges["memberships"] = [];
  const warnings: string[] = [];
  for (const object of objects) {
    if (!isObjectId(object.id)) {
      warnings.push(`Skipped a group with an id that is not a GUID: ${JSON.stringify(object.id)}`);
      continue;
    }
    const removal = removalOf(object);
    if (removal) {
      groups.push(removal);
      continue;
    }
    groups.push({ kind: "upsert", id: object.id, properties: pick<GroupProperties>(object, groupPropertyNames) });
    const delta = object["members@delta"];
    if (!Array.isArray(delta)) continue;
    for (const member of delta as Array<Record<string, unknown>>) {
      if (!isObjectId(member.id)) {
        warnings.push(`Skipped a member of group ${object.id} with an id that is not a GUID: ${JSON.stringify(member.id)}`);
        continue;
      }
      memberships.push({
        groupId: object.id,
        memberId: member.id,
        memberType: memberTypes[String(member["@odata.type"])] ?? "other",
        removed: member["@removed"] !== undefined,
      });
    }
  }
  return { changes: { groups, memberships }, warnings };
}
