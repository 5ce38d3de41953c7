// Turns the directory model and its change log into pages of Graph delta (and list) results, snapshotting each round so paging is stable.
import { randomBytes } from "node:crypto";
import {
  isMembershipChange,
  type ChangeRecord,
  type DirectoryModel,
  type DirectoryObjectKind,
  type MemberType,
  type ModelDevice,
  type ModelGroup,
  type ModelUser,
  type ObjectChangeRecord,
} from "./directoryModel";

export type DeltaResource = "users" | "groups" | "devices";
export type SoftDeletedMembership = "kept" | "reportedRemoved";
/** "changed": updated objects carry id and only the changed properties; "selected": every tracked property, as Graph does without Prefer: return=minimal. */
export type UpdatedObjectProperties = "changed" | "selected";

/** What a delta round tracks; Graph encodes it in the state tokens so later requests need not repeat it. */
export interface DeltaQueryShape {
  /** $select as given (without members), or null for the default property set. */
  select: readonly string[] | null;
  /** Groups only: whether members@delta is tracked. */
  members: boolean;
  /** $filter=id eq '…' or …, or null for every object. */
  filter: readonly string[] | null;
}

export interface DeltaEngineOptions {
  usersPageSize: number;
  groupsPageSize: number;
  devicesPageSize: number;
  membersPerGroupAppearance: number;
  softDeletedMembership: SoftDeletedMembership;
  updatedObjectProperties: UpdatedObjectProperties;
  /** Deliver the first change of every incremental round a second time at its end, as Graph's documented replays do. */
  replayChanges: boolean;
}

/** One round of paging: a full read, an incremental read, or a plain list; rendered lazily page by page. */
export interface PagingSession {
  readonly id: string;
  readonly resource: DeltaResource | "list";
  readonly query: DeltaQueryShape;
  /** Change-log position the round ends at; the final deltaLink points here. */
  readonly endSeq: number;
  readonly unitCount: number;
  readonly pageSize: number;
  /** Lists only: the path their nextLinks go back to, e.g. "/v1.0/groups/{id}/members". */
  readonly listPath?: string;
  render(from: number, to: number): string[];
}

/** Default properties of GET /users (v1.0) when no $select is given. */
export const defaultUserSelect: readonly string[] = [
  "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
  "preferredLanguage", "surname", "userPrincipalName",
];
const modelUserProperties: readonly string[] = [
  "displayName", "givenName", "surname", "userPrincipalName", "mail", "accountEnabled", "userType", "jobTitle",
  "department", "employeeId",
];
/** Properties of the user resource the stand-in can return; the unmodelled ones have Graph's empty values. */
export const knownUserProperties: ReadonlySet<string> = new Set([...defaultUserSelect, ...modelUserProperties, "id"]);
export const defaultGroupSelect: readonly string[] = [
  "description", "displayName", "groupTypes", "mail", "mailEnabled", "mailNickname", "securityEnabled",
];
export const knownGroupProperties: ReadonlySet<string> = new Set([...defaultGroupSelect, "id"]);

/** Device properties the model holds; changes to them are tracked. */
export const modelDeviceProperties: readonly string[] = [
  "accountEnabled", "approximateLastSignInDateTime", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "trustType",
];
/** The other v1.0 device properties, with the values Graph gives a device where they are unset. */
const unmodelledDeviceValues: Readonly<Record<string, unknown>> = {
  alternativeSecurityIds: [],
  complianceExpirationDateTime: null,
  deviceMetadata: null,
  deviceVersion: null,
  extensionAttributes: Object.fromEntries(Array.from({ length: 15 }, (_, index) => [`extensionAttribute${index + 1}`, null])),
  isCompliant: null,
  isManaged: null,
  manufacturer: null,
  mdmAppId: null,
  model: null,
  onPremisesLastSyncDateTime: null,
  onPremisesSyncEnabled: null,
  physicalIds: [],
  profileType: "RegisteredDevice",
  systemLabels: [],
};
/** device-list: "All of the properties will be returned" without $select, so the default is every known property. */
export const defaultDeviceSelect: readonly string[] = [...modelDeviceProperties, ...Object.keys(unmodelledDeviceValues)].sort();
export const knownDeviceProperties: ReadonlySet<string> = new Set([...defaultDeviceSelect, "id"]);

/** Graph's odata.type for each member kind. */
export const memberODataType: Record<MemberType, string> = {
  user: "#microsoft.graph.user",
  group: "#microsoft.graph.group",
  device: "#microsoft.graph.device",
  servicePrincipal: "#microsoft.graph.servicePrincipal",
  orgContact: "#microsoft.graph.orgContact",
};
const memberTypeCodes: readonly MemberType[] = ["user", "group", "device", "servicePrincipal", "orgContact"];
const memberTypeCode: Record<MemberType, number> = { user: 0, group: 1, device: 2, servicePrincipal: 3, orgContact: 4 };

/** Finished or abandoned rounds are kept this long (by count) so retried or resumed nextLinks still work. */
const maxSessions = 32;

export function userPropertyValue(user: ModelUser, name: string): unknown {
  switch (name) {
    case "businessPhones":
      return [];
    case "mobilePhone":
    case "officeLocation":
    case "preferredLanguage":
      return null;
    default:
      return (user as unknown as Record<string, unknown>)[name];
  }
}

export function renderUser(user: ModelUser, properties: readonly string[]): string {
  const body: Record<string, unknown> = {};
  for (const name of properties) if (name !== "id") body[name] = userPropertyValue(user, name);
  body["id"] = user.id;
  return JSON.stringify(body);
}

export function renderDevice(device: ModelDevice, properties: readonly string[]): string {
  const body: Record<string, unknown> = {};
  for (const name of properties) {
    if (name === "id") continue;
    body[name] = name in unmodelledDeviceValues ? unmodelledDeviceValues[name] : (device as unknown as Record<string, unknown>)[name];
  }
  body["id"] = device.id;
  return JSON.stringify(body);
}

function groupBody(group: ModelGroup, properties: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of properties) if (name !== "id") body[name] = (group as unknown as Record<string, unknown>)[name];
  body["id"] = group.id;
  return body;
}

export function renderGroup(group: ModelGroup, properties: readonly string[]): string {
  return JSON.stringify(groupBody(group, properties));
}

function removedObject(id: string, reason: "changed" | "deleted"): string {
  return JSON.stringify({ id, "@removed": { reason } });
}

/** A member entry of members@delta; removed entries carry @removed reason "deleted" as Graph does. */
function memberEntry(id: string, type: MemberType, removed: boolean): string {
  const prefix = `{"@odata.type":"${memberODataType[type]}","id":${JSON.stringify(id)}`;
  return removed ? `${prefix},"@removed":{"reason":"deleted"}}` : `${prefix}}`;
}

/** Appends members@delta to a rendered group object (its closing brace replaced). */
function withMembers(objectJson: string, entries: readonly string[]): string {
  if (entries.length === 0) return objectJson;
  const open = objectJson.slice(0, -1);
  return `${open}${open.length > 1 ? "," : ""}"members@delta":[${entries.join(",")}]}`;
}

export class DeltaQueryEngine {
  private readonly sessions = new Map<string, PagingSession>();

  constructor(
    private readonly model: DirectoryModel,
    private readonly options: DeltaEngineOptions,
  ) {}

  session(id: string): PagingSession | undefined {
    const found = this.sessions.get(id);
    if (found) {
      // Least recently used goes first when the store is full.
      this.sessions.delete(id);
      this.sessions.set(id, found);
    }
    return found;
  }

  /** Snapshot of the current state: the initial request of a delta round. */
  startFull(resource: DeltaResource, query: DeltaQueryShape): PagingSession {
    if (resource === "devices") return this.store(this.fullDevices(query));
    return this.store(resource === "users" ? this.fullUsers(query) : this.fullGroups(query));
  }

  /** Net changes between fromSeq and now, fixed at this moment so paging is stable. */
  startIncremental(resource: DeltaResource, query: DeltaQueryShape, fromSeq: number, preferMinimal: boolean): PagingSession {
    const endSeq = this.model.sequence;
    const allProperties = this.options.updatedObjectProperties === "selected" && !preferMinimal;
    const units =
      resource === "users"
        ? this.userChanges(query, fromSeq, endSeq, allProperties)
        : resource === "devices"
          ? this.deviceChanges(query, fromSeq, endSeq, allProperties)
          : this.groupChanges(query, fromSeq, endSeq, allProperties);
    const pageSize =
      resource === "users" ? this.options.usersPageSize : resource === "devices" ? this.options.devicesPageSize : this.options.groupsPageSize;
    const replayed = units[0];
    if (this.options.replayChanges && replayed !== undefined) units.push(replayed);
    return this.store(fixedSession(resource, query, endSeq, units, pageSize));
  }

  /** A plain GET /users or /groups listing, paged with $skiptoken like Graph. */
  startList(items: readonly string[], pageSize: number, listPath: string): PagingSession {
    const session = fixedSession("list", { select: null, members: false, filter: null }, this.model.sequence, items, pageSize);
    return this.store({ ...session, listPath });
  }

  /** The members a group has for reporting: raw edges, minus soft-deleted members when their removal is reported. */
  isReportedMember(groupId: string, memberId: string): boolean {
    const type = this.model.members.get(groupId)?.get(memberId);
    if (type === undefined) return false;
    return this.options.softDeletedMembership === "kept" || !this.isSoftDeleted(memberId);
  }

  private isSoftDeleted(id: string): boolean {
    return this.model.users.get(id)?.deleted === true || this.model.groups.get(id)?.deleted === true;
  }

  private store(session: PagingSession): PagingSession {
    this.sessions.set(session.id, session);
    while (this.sessions.size > maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }

  private userProperties(query: DeltaQueryShape): readonly string[] {
    return query.select ?? defaultUserSelect;
  }

  private groupProperties(query: DeltaQueryShape): readonly string[] {
    return query.select ?? defaultGroupSelect;
  }

  private fullUsers(query: DeltaQueryShape): PagingSession {
    const snapshot: ModelUser[] = [];
    if (query.filter) {
      for (const id of query.filter) {
        const user = this.model.users.get(id);
        if (user && !user.deleted) snapshot.push(user);
      }
    } else {
      for (const user of this.model.users.values()) if (!user.deleted) snapshot.push(user);
    }
    const properties = this.userProperties(query);
    // User objects are replaced, never mutated, on update, so holding references is a true snapshot.
    return {
      id: newSessionId(),
      resource: "users",
      query,
      endSeq: this.model.sequence,
      unitCount: snapshot.length,
      pageSize: this.options.usersPageSize,
      render: (from, to) => snapshot.slice(from, to).map((user) => renderUser(user, properties)),
    };
  }

  private fullDevices(query: DeltaQueryShape): PagingSession {
    const snapshot: ModelDevice[] = [];
    if (query.filter) {
      for (const id of query.filter) {
        const device = this.model.devices.get(id);
        if (device) snapshot.push(device);
      }
    } else {
      snapshot.push(...this.model.devices.values());
    }
    const properties = query.select ?? defaultDeviceSelect;
    // Devices are replaced, never mutated, on update, so holding references is a true snapshot.
    return {
      id: newSessionId(),
      resource: "devices",
      query,
      endSeq: this.model.sequence,
      unitCount: snapshot.length,
      pageSize: this.options.devicesPageSize,
      render: (from, to) => snapshot.slice(from, to).map((device) => renderDevice(device, properties)),
    };
  }

  private fullGroups(query: DeltaQueryShape): PagingSession {
    const groups: ModelGroup[] = [];
    if (query.filter) {
      for (const id of query.filter) {
        const group = this.model.groups.get(id);
        if (group && !group.deleted) groups.push(group);
      }
    } else {
      for (const group of this.model.groups.values()) if (!group.deleted) groups.push(group);
    }
    const perAppearance = this.options.membersPerGroupAppearance;
    const memberIds: string[][] = new Array<string[]>(groups.length);
    const memberTypes: Uint8Array[] = new Array<Uint8Array>(groups.length);
    const chunkCounts = new Int32Array(groups.length);
    let unitCount = 0;
    for (let index = 0; index < groups.length; index++) {
      const group = groups[index] as ModelGroup;
      const ids: string[] = [];
      const types: number[] = [];
      if (query.members) {
        for (const [memberId, type] of this.model.members.get(group.id) ?? []) {
          if (this.options.softDeletedMembership === "reportedRemoved" && this.isSoftDeleted(memberId)) continue;
          ids.push(memberId);
          types.push(memberTypeCode[type]);
        }
      }
      memberIds[index] = ids;
      memberTypes[index] = Uint8Array.from(types);
      const chunks = Math.max(1, Math.ceil(ids.length / perAppearance));
      chunkCounts[index] = chunks;
      unitCount += chunks;
    }
    // Appearances go level by level (every group's first part, then every second part, ...), so a large
    // group's members are spread over the whole read as Graph allows; clients must merge all parts.
    const unitGroup = new Int32Array(unitCount);
    const unitChunk = new Int32Array(unitCount);
    let active: number[] = groups.map((_, index) => index);
    let position = 0;
    for (let level = 0; active.length > 0; level++) {
      const next: number[] = [];
      for (const index of active) {
        unitGroup[position] = index;
        unitChunk[position] = level;
        position++;
        if ((chunkCounts[index] as number) > level + 1) next.push(index);
      }
      active = next;
    }
    const properties = this.groupProperties(query);
    const render = (from: number, to: number): string[] => {
      const out: string[] = [];
      for (let unit = from; unit < Math.min(to, unitCount); unit++) {
        const index = unitGroup[unit] as number;
        const chunk = unitChunk[unit] as number;
        const ids = memberIds[index] as string[];
        const types = memberTypes[index] as Uint8Array;
        const entries: string[] = [];
        const end = Math.min(ids.length, (chunk + 1) * perAppearance);
        for (let member = chunk * perAppearance; member < end; member++) {
          entries.push(memberEntry(ids[member] as string, memberTypeCodes[types[member] as number] as MemberType, false));
        }
        out.push(withMembers(renderGroup(groups[index] as ModelGroup, properties), entries));
      }
      return out;
    };
    return {
      id: newSessionId(),
      resource: "groups",
      query,
      endSeq: this.model.sequence,
      unitCount,
      pageSize: this.options.groupsPageSize,
      render,
    };
  }

  private userChanges(query: DeltaQueryShape, fromSeq: number, toSeq: number, allProperties: boolean): string[] {
    const filter = query.filter ? new Set(query.filter) : null;
    const touched = collectObjectChanges(this.model.changeLog, fromSeq, toSeq, "user", filter);
    const output = this.userProperties(query);
    // Without $select every property is tracked (Graph: "all properties of the object are tracked").
    const tracked = new Set(query.select ?? modelUserProperties);
    const units: string[] = [];
    for (const [id, change] of touched) {
      const user = this.model.users.get(id);
      const before = statusBefore(change.first, user === undefined ? "absent" : user.deleted ? "softDeleted" : "live");
      if (user === undefined) {
        units.push(removedObject(id, "deleted"));
      } else if (user.deleted) {
        if (before !== "softDeleted") units.push(removedObject(id, "changed"));
      } else if (before !== "live") {
        units.push(renderUser(user, output));
      } else {
        const changed = [...change.properties].filter((name) => tracked.has(name));
        if (changed.length === 0) continue;
        units.push(renderUser(user, allProperties ? output : changed));
      }
    }
    return units;
  }

  private deviceChanges(query: DeltaQueryShape, fromSeq: number, toSeq: number, allProperties: boolean): string[] {
    const filter = query.filter ? new Set(query.filter) : null;
    const touched = collectObjectChanges(this.model.changeLog, fromSeq, toSeq, "device", filter);
    const output = query.select ?? defaultDeviceSelect;
    const tracked = new Set(query.select ?? modelDeviceProperties);
    const units: string[] = [];
    for (const [id, change] of touched) {
      const device = this.model.devices.get(id);
      const before = statusBefore(change.first, device === undefined ? "absent" : "live");
      if (device === undefined) {
        // Created and deleted within the round: the client never saw it, so there is nothing to remove.
        if (before !== "absent") units.push(removedObject(id, "deleted"));
      } else if (before !== "live") {
        units.push(renderDevice(device, output));
      } else {
        const changed = [...change.properties].filter((name) => tracked.has(name));
        if (changed.length === 0) continue;
        units.push(renderDevice(device, allProperties ? output : changed));
      }
    }
    return units;
  }

  private groupChanges(query: DeltaQueryShape, fromSeq: number, toSeq: number, allProperties: boolean): string[] {
    const log = this.model.changeLog;
    const filter = query.filter ? new Set(query.filter) : null;
    const reportRemovedOnSoftDelete = this.options.softDeletedMembership === "reportedRemoved";
    const touched = collectObjectChanges(log, fromSeq, toSeq, "group", filter);
    /** First edge event per (group, member) since fromSeq: what the edge was before the round. */
    const edgeChanges = new Map<string, Map<string, { firstEdgeOp: "memberAdded" | "memberRemoved" | undefined; type: MemberType }>>();
    /** First lifecycle event per object since fromSeq, to know whether a member was soft-deleted before. */
    const firstLifecycle = new Map<string, ObjectChangeRecord>();
    const order = new Map<string, number>();
    const touchGroup = (groupId: string): boolean => {
      if (filter && !filter.has(groupId)) return false;
      if (!order.has(groupId)) order.set(groupId, order.size);
      return true;
    };
    for (const [id] of touched) touchGroup(id);
    /** A lifecycle touch (soft delete or restore of the member) leaves firstEdgeOp open for a later edge event. */
    const touchEdge = (groupId: string, memberId: string, edgeOp: "memberAdded" | "memberRemoved" | undefined, type: MemberType): void => {
      if (!touchGroup(groupId)) return;
      let edges = edgeChanges.get(groupId);
      if (!edges) edgeChanges.set(groupId, (edges = new Map()));
      const existing = edges.get(memberId);
      if (!existing) edges.set(memberId, { firstEdgeOp: edgeOp, type });
      else if (existing.firstEdgeOp === undefined) existing.firstEdgeOp = edgeOp;
    };
    if (query.members) {
      for (let index = fromSeq; index < toSeq; index++) {
        const change = log[index] as ChangeRecord;
        if (isMembershipChange(change)) {
          touchEdge(change.groupId, change.memberId, change.op, change.memberType);
        } else if (change.op !== "updated") {
          if (!firstLifecycle.has(change.id)) firstLifecycle.set(change.id, change);
          if (reportRemovedOnSoftDelete && (change.op === "softDeleted" || change.op === "restored")) {
            for (const groupId of change.memberOf) touchEdge(groupId, change.id, undefined, change.kind);
          }
        }
      }
    }

    const output = this.groupProperties(query);
    const tracked = new Set(query.select ?? defaultGroupSelect);
    const perAppearance = this.options.membersPerGroupAppearance;
    const units: string[] = [];
    const emitWithMembers = (objectJson: string, entries: string[]): void => {
      if (entries.length === 0) {
        units.push(objectJson);
        return;
      }
      for (let start = 0; start < entries.length; start += perAppearance) {
        units.push(withMembers(objectJson, entries.slice(start, start + perAppearance)));
      }
    };
    const sorted = [...order.keys()];
    for (const groupId of sorted) {
      const group = this.model.groups.get(groupId);
      const change = touched.get(groupId);
      const now = group === undefined ? "absent" : group.deleted ? "softDeleted" : "live";
      const before = change ? statusBefore(change.first, now) : now;
      if (group === undefined) {
        units.push(removedObject(groupId, "deleted"));
        continue;
      }
      if (group.deleted) {
        if (before !== "softDeleted") units.push(removedObject(groupId, "changed"));
        continue;
      }
      if (before !== "live") {
        // Created or restored: the standard representation with every current member.
        const entries: string[] = [];
        if (query.members) {
          for (const [memberId, type] of this.model.members.get(groupId) ?? []) {
            if (this.isReportedMember(groupId, memberId)) entries.push(memberEntry(memberId, type, false));
          }
        }
        emitWithMembers(renderGroup(group, output), entries);
        continue;
      }
      const changedProperties = change ? [...change.properties].filter((name) => tracked.has(name)) : [];
      const entries: string[] = [];
      for (const [memberId, edge] of edgeChanges.get(groupId) ?? []) {
        const memberNow = this.isReportedMember(groupId, memberId);
        const edgeBefore = edge.firstEdgeOp === undefined ? this.model.members.get(groupId)?.has(memberId) === true : edge.firstEdgeOp === "memberRemoved";
        let memberBefore = edgeBefore;
        if (memberBefore && reportRemovedOnSoftDelete) {
          const memberState = this.isSoftDeleted(memberId) ? "softDeleted" : this.model.memberTypeOf(memberId) === undefined ? "absent" : "live";
          const first = firstLifecycle.get(memberId);
          memberBefore = (first ? statusBefore(first, memberState) : memberState) === "live";
        }
        if (memberNow !== memberBefore) {
          const type = this.model.members.get(groupId)?.get(memberId) ?? edge.type;
          entries.push(memberEntry(memberId, type, !memberNow));
        }
      }
      if (changedProperties.length === 0 && entries.length === 0) continue;
      const properties = changedProperties.length === 0 ? [] : allProperties ? output : changedProperties;
      const objectJson = allProperties && entries.length > 0 ? renderGroup(group, output) : renderGroup(group, properties);
      emitWithMembers(objectJson, entries);
    }
    return units;
  }
}

type ObjectStatus = "absent" | "live" | "softDeleted";

interface ObjectChange {
  first: ObjectChangeRecord;
  properties: Set<string>;
}

/** Objects of one kind touched in (fromSeq, toSeq], in order of first change, with their changed properties. */
function collectObjectChanges(
  log: readonly ChangeRecord[],
  fromSeq: number,
  toSeq: number,
  kind: DirectoryObjectKind,
  filter: ReadonlySet<string> | null,
): Map<string, ObjectChange> {
  const touched = new Map<string, ObjectChange>();
  for (let index = fromSeq; index < toSeq; index++) {
    const change = log[index] as ChangeRecord;
    if (isMembershipChange(change) || change.kind !== kind) continue;
    if (filter && !filter.has(change.id)) continue;
    let entry = touched.get(change.id);
    if (!entry) touched.set(change.id, (entry = { first: change, properties: new Set() }));
    if (change.op === "updated") for (const name of change.properties) entry.properties.add(name);
  }
  return touched;
}

/** What an object was before the round, from its first change in the round (or its state now if untouched). */
function statusBefore(first: ObjectChangeRecord, now: ObjectStatus): ObjectStatus {
  switch (first.op) {
    case "created":
      return "absent";
    case "updated":
    case "softDeleted":
      return "live";
    case "restored":
      return "softDeleted";
    case "hardDeleted":
      return first.wasSoftDeleted ? "softDeleted" : "live";
    default:
      return now;
  }
}

function fixedSession(
  resource: DeltaResource | "list",
  query: DeltaQueryShape,
  endSeq: number,
  units: readonly string[],
  pageSize: number,
): PagingSession {
  return {
    id: newSessionId(),
    resource,
    query,
    endSeq,
    unitCount: units.length,
    pageSize,
    render: (from, to) => units.slice(from, to),
  };
}

function newSessionId(): string {
  return randomBytes(12).toString("base64url");
}
