// The stand-in's mutable ground truth of an Entra ID tenant, with an ordered change log that delta queries read.

export type MemberType = "user" | "group" | "device" | "servicePrincipal" | "orgContact";
export type OtherObjectType = Exclude<MemberType, "user" | "group">;

export interface ModelUser {
  id: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  userPrincipalName: string;
  mail: string | null;
  accountEnabled: boolean;
  userType: "Member" | "Guest";
  jobTitle: string | null;
  department: string | null;
  employeeId: string | null;
  /** Soft-deleted: in the deleted items container, restorable. */
  deleted: boolean;
}

export interface ModelGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
  mailEnabled: boolean;
  mailNickname: string | null;
  securityEnabled: boolean;
  groupTypes: string[];
  /** Soft-deleted (Microsoft 365 groups only). */
  deleted: boolean;
}

/** device.trustType values (device resource type, v1.0). */
export type DeviceTrustType = "Workplace" | "AzureAd" | "ServerAd";

/** The device properties a sync would select; deleted devices leave no trace, as Entra has no deleted items for devices. */
export interface ModelDevice {
  id: string;
  deviceId: string;
  displayName: string;
  operatingSystem: string;
  operatingSystemVersion: string;
  accountEnabled: boolean;
  trustType: DeviceTrustType | null;
  /** ISO 8601 UTC without fractions, e.g. "2024-05-31T08:15:00Z"; null when the device never signed in. */
  approximateLastSignInDateTime: string | null;
}

export interface GenerateOptions {
  seed?: number;
  users?: number;
  groups?: number;
  /** Average direct group memberships per user. */
  membershipsPerUser?: number;
  /** Devices beyond the ones generated as group members; default 0. About half of them join a group. */
  devices?: number;
}

export interface ChurnResult {
  usersChanged: number;
  usersCreated: number;
  usersDeleted: number;
  membershipsAdded: number;
  membershipsRemoved: number;
}

export type DirectoryObjectKind = "user" | "group" | "device";
export type UserProperty = Exclude<keyof ModelUser, "id" | "deleted">;
export type GroupProperty = Exclude<keyof ModelGroup, "id" | "deleted">;
export type DeviceProperty = Exclude<keyof ModelDevice, "id">;

export interface ObjectCreated { seq: number; op: "created"; kind: DirectoryObjectKind; id: string }
export interface ObjectUpdated { seq: number; op: "updated"; kind: DirectoryObjectKind; id: string; properties: readonly string[] }
/** memberOf: the groups that held a direct edge to the object when it was soft-deleted or restored. */
export interface ObjectSoftDeletedOrRestored { seq: number; op: "softDeleted" | "restored"; kind: DirectoryObjectKind; id: string; memberOf: readonly string[] }
export interface ObjectHardDeleted { seq: number; op: "hardDeleted"; kind: DirectoryObjectKind; id: string; wasSoftDeleted: boolean }
export interface MembershipChanged { seq: number; op: "memberAdded" | "memberRemoved"; groupId: string; memberId: string; memberType: MemberType }
export type ObjectChangeRecord = ObjectCreated | ObjectUpdated | ObjectSoftDeletedOrRestored | ObjectHardDeleted;
/** One entry of the change log; seq starts at 1 and has no gaps, so seq - 1 is the index in changeLog. */
export type ChangeRecord = ObjectChangeRecord | MembershipChanged;

export function isMembershipChange(change: ChangeRecord): change is MembershipChanged {
  return change.op === "memberAdded" || change.op === "memberRemoved";
}

const defaultUserCount = 50;
const defaultGroupCount = 10;
const defaultMembershipsPerUser = 3;
const defaultSeed = 20_240_601;
/** Zipf exponent for group popularity: a few very large groups, a long tail of small ones, as in real tenants. */
const groupPopularityExponent = 0.9;
const memberDomain = "contoso.com";
const tenantDomain = "contoso.onmicrosoft.com";

const userProperties: readonly UserProperty[] = [
  "displayName", "givenName", "surname", "userPrincipalName", "mail", "accountEnabled",
  "userType", "jobTitle", "department", "employeeId",
];
const groupProperties: readonly GroupProperty[] = [
  "displayName", "description", "mail", "mailEnabled", "mailNickname", "securityEnabled", "groupTypes",
];
const deviceProperties: readonly DeviceProperty[] = [
  "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "accountEnabled", "trustType", "approximateLastSignInDateTime",
];

const givenNames = [
  "Adele", "Alex", "Allan", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne",
  "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Zoë", "Łukasz", "José", "Søren", "Aiko", "Fatima", "Chen",
  "Olga", "Kwame", "Ingrid", "Mateo", "Priya", "Yusuf", "Renée", "Björn",
];
const surnames = [
  "Vance", "Wilber", "Brown", "Sicilian", "Archie", "Cantrell", "Langer", "Lauer", "Sherman", "Gu", "Holloway",
  "Robbins", "Bowen", "Hamilton", "Varkey", "Patel", "Fernandez", "Ångström", "Żółć", "Núñez", "Østergaard",
  "Tanaka", "Haddad", "Wang", "Ivanova", "Mensah", "Bergström", "García", "Iyer", "Demir", "O'Brien", "Müller",
];
const jobTitles = [
  "Software Engineer", "Senior Software Engineer", "Product Manager", "Designer", "Accountant", "Sales Representative",
  "Support Engineer", "HR Generalist", "Marketing Specialist", "Data Analyst", "Director", "Legal Counsel",
];
const departments = ["Engineering", "Product", "Design", "Finance", "Sales", "Support", "Human Resources", "Marketing", "Legal", "Operations"];
const guestDomains = ["fabrikam.com", "northwindtraders.com", "adatum.com", "tailspintoys.com"];

/** Named users that every generated tenant of sufficient size contains, so non-ASCII handling is always exercised. */
const fixedUsers: ReadonlyArray<{ givenName: string; surname: string; displayName: string }> = [
  { givenName: "Zoë", surname: "Ångström", displayName: "Zoë Ångström" },
  { givenName: "Łukasz", surname: "Żółć", displayName: "Łukasz Żółć" },
  { givenName: "雷", surname: "李", displayName: "李雷" },
];

type GroupKind = "security" | "microsoft365" | "distribution" | "mailEnabledSecurity";

/** Operating systems with versions and the trust types Entra gives them; phones and tablets are only ever registered. */
const devicePlatforms: ReadonlyArray<{ os: string; versions: readonly string[]; trust: readonly DeviceTrustType[]; names: readonly string[] }> = [
  { os: "Windows", versions: ["10.0.19045.4291", "10.0.22631.3447", "10.0.26100.1742"], trust: ["AzureAd", "ServerAd", "Workplace"], names: [] },
  { os: "iOS", versions: ["16.7.8", "17.5.1", "18.0"], trust: ["Workplace"], names: ["iPhone", "iPad"] },
  { os: "Android", versions: ["13.0", "14.0"], trust: ["Workplace"], names: ["Pixel 8", "Galaxy S23"] },
  { os: "MacMDM", versions: ["14.5", "15.0"], trust: ["Workplace", "AzureAd"], names: ["MacBook Pro", "MacBook Air"] },
];
/** Sign-in times are spread over the 90 days before this fixed instant, so generation never depends on the clock. */
const deviceSignInEpochMs = Date.UTC(2024, 5, 1);
const deviceSignInSpreadSeconds = 90 * 24 * 3600;

/** mulberry32: a tiny, fast, seedable PRNG returning unsigned 32-bit integers. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

class SeededRandom {
  private readonly nextUint32: () => number;
  constructor(seed: number) {
    this.nextUint32 = mulberry32(seed);
  }
  uint32(): number {
    return this.nextUint32();
  }
  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4_294_967_296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("SeededRandom.pick: empty list");
    return item;
  }
  /** A version-4-shaped GUID drawn from the PRNG, so ids are deterministic for a seed. */
  guid(): string {
    const a = this.uint32();
    const b = this.uint32();
    const c = this.uint32();
    const d = this.uint32();
    const timeHigh = ((b & 0x0fff) | 0x4000) >>> 0;
    const clock = ((c >>> 16) & 0x3fff) | 0x8000;
    return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex(timeHigh, 4)}-${hex(clock, 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
  }
}

function hex(value: number, width: number): string {
  return (value >>> 0).toString(16).padStart(width, "0");
}

/** Lower-case ASCII for mail addresses: strips accents and drops what cannot be spelled in ASCII. */
function asciiSlug(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[łŁ]/g, "l")
    .replace(/[øØ]/g, "o")
    .replace(/ß/g, "ss")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => item === b[index]);
  return a === b;
}

/** A copy of `current` with the patch's changed properties (arrays copied too), so snapshots taken earlier keep the old values. */
function patched<T extends object, K extends keyof T & string>(current: T, names: readonly K[], patch: Partial<Pick<T, K>>): { next: T; changed: K[] } {
  const changed = names.filter((name) => name in patch && patch[name] !== undefined && !sameValue(patch[name], current[name]));
  const next: T = { ...current };
  for (const name of changed) {
    const value = patch[name];
    (next as Record<string, unknown>)[name] = Array.isArray(value) ? [...value] : value;
  }
  return { next, changed };
}

export class DirectoryModel {
  readonly users = new Map<string, ModelUser>();
  readonly groups = new Map<string, ModelGroup>();
  /** Raw direct membership; edges of soft-deleted users and groups are kept (they come back on restore). */
  readonly members = new Map<string, Map<string, MemberType>>();
  /** Devices, service principals and org contacts that can be members of groups. */
  readonly otherObjects = new Map<string, MemberType>();
  /** Every device in otherObjects, with its properties. */
  readonly devices = new Map<string, ModelDevice>();

  private readonly log: ChangeRecord[] = [];
  private readonly listeners = new Set<(change: ChangeRecord) => void>();
  private readonly random: SeededRandom;
  /** Device properties have their own stream so adding devices never shifts the users and groups a seed produces. */
  private readonly deviceRandom: SeededRandom;
  private createdUserCount = 0;
  private createdGroupCount = 0;

  private constructor(seed: number) {
    this.random = new SeededRandom(seed ^ 0x5eed);
    this.deviceRandom = new SeededRandom(seed ^ 0x0de1ce);
  }

  static empty(): DirectoryModel {
    return new DirectoryModel(defaultSeed);
  }

  /** A deterministic tenant for a seed; nothing generated is in the change log (sequence stays 0). */
  static generate(options: GenerateOptions = {}): DirectoryModel {
    const seed = options.seed ?? defaultSeed;
    const userCount = options.users ?? defaultUserCount;
    const groupCount = options.groups ?? defaultGroupCount;
    const membershipsPerUser = options.membershipsPerUser ?? defaultMembershipsPerUser;
    const model = new DirectoryModel(seed);
    const random = new SeededRandom(seed);

    const userIds: string[] = new Array<string>(userCount);
    for (let index = 0; index < userCount; index++) {
      const user = generateUser(random, index);
      model.users.set(user.id, user);
      userIds[index] = user.id;
    }
    model.createdUserCount = userCount;

    const groupIds: string[] = new Array<string>(groupCount);
    const kinds: GroupKind[] = new Array<GroupKind>(groupCount);
    for (let index = 0; index < groupCount; index++) {
      const kind = groupKindFor(random, index);
      const group = generateGroup(random, index, kind);
      model.groups.set(group.id, group);
      model.members.set(group.id, new Map());
      groupIds[index] = group.id;
      kinds[index] = kind;
    }
    model.createdGroupCount = groupCount;
    if (groupCount === 0) {
      model.generateDevices(options.devices ?? 0, []);
      return model;
    }

    // The last group stays empty when there are enough groups, so "no members@delta" is always exercised.
    const emptyGroupIndex = groupCount >= 5 ? groupCount - 1 : -1;
    const cumulative = popularityWeights(random, groupCount, emptyGroupIndex);
    const total = cumulative[groupCount - 1] ?? 0;
    if (total > 0) {
      for (let userIndex = 0; userIndex < userCount; userIndex++) {
        const memberships = Math.floor(random.next() * (2 * membershipsPerUser + 1));
        const userId = userIds[userIndex] as string;
        for (let pick = 0; pick < memberships; pick++) {
          const groupIndex = searchCumulative(cumulative, random.next() * total);
          const edges = model.members.get(groupIds[groupIndex] as string) as Map<string, MemberType>;
          edges.set(userId, "user");
        }
      }
    }

    const securityIndexes: number[] = [];
    for (let index = 0; index < groupCount; index++) {
      if (index !== emptyGroupIndex && (kinds[index] === "security" || kinds[index] === "mailEnabledSecurity")) securityIndexes.push(index);
    }
    const nest = (parentIndex: number, childIndex: number): void => {
      if (parentIndex === childIndex) return;
      const parent = model.members.get(groupIds[parentIndex] as string);
      parent?.set(groupIds[childIndex] as string, "group");
    };
    // A chain a few levels deep, random nesting below it, and one cycle (A contains B, B contains A).
    for (let level = 0; level + 1 < Math.min(4, securityIndexes.length); level++) {
      nest(securityIndexes[level] as number, securityIndexes[level + 1] as number);
    }
    for (let position = 1; position < securityIndexes.length; position++) {
      if (random.next() < 0.2) nest(securityIndexes[random.int(position)] as number, securityIndexes[position] as number);
    }
    if (groupCount >= 4) {
      nest(0, 3);
      nest(3, 0);
    }

    const otherTypes: Array<[OtherObjectType, number]> = [
      ["device", Math.min(50, Math.max(2, Math.floor(groupCount / 5)))],
      ["servicePrincipal", Math.min(20, Math.max(1, Math.floor(groupCount / 10)))],
      ["orgContact", Math.min(10, Math.max(1, Math.floor(groupCount / 20)))],
    ];
    const hosts = securityIndexes.length > 0 ? securityIndexes : groupIds.map((_, index) => index).filter((index) => index !== emptyGroupIndex);
    for (const [type, count] of otherTypes) {
      for (let n = 0; n < count; n++) {
        const id = random.guid();
        model.otherObjects.set(id, type);
        if (type === "device") model.devices.set(id, model.newDevice(id, {}));
        if (hosts.length === 0) continue;
        const host = groupIds[hosts[random.int(hosts.length)] as number] as string;
        model.members.get(host)?.set(id, type);
      }
    }
    model.generateDevices(options.devices ?? 0, hosts.map((index) => groupIds[index] as string));
    return model;
  }

  /** The change log in order; the stand-in's delta queries read it. */
  get changeLog(): readonly ChangeRecord[] {
    return this.log;
  }

  /** Sequence number of the newest change; 0 when nothing has changed since generation. */
  get sequence(): number {
    return this.log.length;
  }

  /** Groups (ids) that hold a direct edge to memberId, deleted groups included. */
  memberOf(memberId: string): string[] {
    const result: string[] = [];
    for (const [groupId, edges] of this.members) if (edges.has(memberId)) result.push(groupId);
    return result;
  }

  /** The type of a directory object that can be a member, or undefined if it does not exist. */
  memberTypeOf(id: string): MemberType | undefined {
    if (this.users.has(id)) return "user";
    if (this.groups.has(id)) return "group";
    return this.otherObjects.get(id);
  }

  createUser(fields: Partial<ModelUser> = {}): ModelUser {
    const index = this.createdUserCount++;
    const id = fields.id ?? this.random.guid();
    if (this.memberTypeOf(id) !== undefined) throw new Error(`createUser: an object with id '${id}' already exists`);
    const givenName = fields.givenName === undefined ? this.random.pick(givenNames) : fields.givenName;
    const surname = fields.surname === undefined ? this.random.pick(surnames) : fields.surname;
    const local = `${asciiSlug(givenName ?? "user") || "user"}.${asciiSlug(surname ?? "") || "x"}.${index}`;
    const user: ModelUser = {
      id,
      displayName: fields.displayName ?? ([givenName, surname].filter(Boolean).join(" ") || `User ${index}`),
      givenName,
      surname,
      userPrincipalName: fields.userPrincipalName ?? `${local}@${memberDomain}`,
      mail: fields.mail === undefined ? `${local}@${memberDomain}` : fields.mail,
      accountEnabled: fields.accountEnabled ?? true,
      userType: fields.userType ?? "Member",
      jobTitle: fields.jobTitle === undefined ? this.random.pick(jobTitles) : fields.jobTitle,
      department: fields.department === undefined ? this.random.pick(departments) : fields.department,
      employeeId: fields.employeeId === undefined ? String(100_000 + index) : fields.employeeId,
      deleted: false,
    };
    this.users.set(id, user);
    this.record({ op: "created", kind: "user", id });
    return user;
  }

  /** Replaces the user object (copy on write) so snapshots taken earlier keep the old values. */
  updateUser(id: string, patch: Partial<Omit<ModelUser, "id" | "deleted">>): void {
    const { next, changed } = patched(this.liveUser("updateUser", id), userProperties, patch);
    if (changed.length === 0) return;
    this.users.set(id, next);
    this.record({ op: "updated", kind: "user", id, properties: changed });
  }

  softDeleteUser(id: string): void {
    const current = this.liveUser("softDeleteUser", id);
    this.users.set(id, { ...current, deleted: true });
    this.record({ op: "softDeleted", kind: "user", id, memberOf: this.memberOf(id) });
  }

  restoreUser(id: string): void {
    const current = this.users.get(id);
    if (!current?.deleted) throw new Error(`restoreUser: user '${id}' is not soft-deleted`);
    this.users.set(id, { ...current, deleted: false });
    this.record({ op: "restored", kind: "user", id, memberOf: this.memberOf(id) });
  }

  /** Permanent deletion (from the directory or from the deleted items container); every membership edge goes with it. */
  hardDeleteUser(id: string): void {
    const current = this.users.get(id);
    if (!current) throw new Error(`hardDeleteUser: user '${id}' does not exist`);
    this.dropEdgesTo(id, "user");
    this.users.delete(id);
    this.record({ op: "hardDeleted", kind: "user", id, wasSoftDeleted: current.deleted });
  }

  createGroup(fields: Partial<ModelGroup> = {}): ModelGroup {
    const index = this.createdGroupCount++;
    const id = fields.id ?? this.random.guid();
    if (this.memberTypeOf(id) !== undefined) throw new Error(`createGroup: an object with id '${id}' already exists`);
    const displayName = fields.displayName ?? `Group ${index}`;
    const nickname = `${asciiSlug(displayName) || "group"}${index}`;
    const mailEnabled = fields.mailEnabled ?? false;
    const group: ModelGroup = {
      id,
      displayName,
      description: fields.description === undefined ? null : fields.description,
      mail: fields.mail === undefined ? (mailEnabled ? `${nickname}@${memberDomain}` : null) : fields.mail,
      mailEnabled,
      mailNickname: fields.mailNickname === undefined ? nickname : fields.mailNickname,
      securityEnabled: fields.securityEnabled ?? !mailEnabled,
      groupTypes: [...(fields.groupTypes ?? [])],
      deleted: false,
    };
    this.groups.set(id, group);
    this.members.set(id, new Map());
    this.record({ op: "created", kind: "group", id });
    return group;
  }

  updateGroup(id: string, patch: Partial<Omit<ModelGroup, "id" | "deleted">>): void {
    const { next, changed } = patched(this.liveGroup("updateGroup", id), groupProperties, patch);
    if (changed.length === 0) return;
    this.groups.set(id, next);
    this.record({ op: "updated", kind: "group", id, properties: changed });
  }

  /** Microsoft 365 groups are soft-deleted (a second call purges them); other groups are deleted for good. */
  deleteGroup(id: string): void {
    const current = this.groups.get(id);
    if (!current) throw new Error(`deleteGroup: group '${id}' does not exist`);
    if (!current.deleted && current.groupTypes.includes("Unified")) {
      this.groups.set(id, { ...current, deleted: true });
      this.record({ op: "softDeleted", kind: "group", id, memberOf: this.memberOf(id) });
      return;
    }
    this.dropEdgesTo(id, "group");
    this.groups.delete(id);
    this.members.delete(id);
    this.record({ op: "hardDeleted", kind: "group", id, wasSoftDeleted: current.deleted });
  }

  restoreGroup(id: string): void {
    const current = this.groups.get(id);
    if (!current?.deleted) throw new Error(`restoreGroup: group '${id}' is not soft-deleted`);
    this.groups.set(id, { ...current, deleted: false });
    this.record({ op: "restored", kind: "group", id, memberOf: this.memberOf(id) });
  }

  /** Adds a direct member; adding an existing member changes nothing. */
  addMember(groupId: string, memberId: string): void {
    this.liveGroup("addMember", groupId);
    if (groupId === memberId) throw new Error(`addMember: group '${groupId}' cannot contain itself`);
    const memberType = this.memberTypeOf(memberId);
    if (memberType === undefined) throw new Error(`addMember: member '${memberId}' does not exist`);
    if (this.users.get(memberId)?.deleted || this.groups.get(memberId)?.deleted) {
      throw new Error(`addMember: member '${memberId}' is soft-deleted`);
    }
    const edges = this.members.get(groupId) as Map<string, MemberType>;
    if (edges.has(memberId)) return;
    edges.set(memberId, memberType);
    this.record({ op: "memberAdded", groupId, memberId, memberType });
  }

  /** Removes a direct member; removing a non-member changes nothing. */
  removeMember(groupId: string, memberId: string): void {
    this.liveGroup("removeMember", groupId);
    const edges = this.members.get(groupId) as Map<string, MemberType>;
    const memberType = edges.get(memberId);
    if (memberType === undefined) return;
    edges.delete(memberId);
    this.record({ op: "memberRemoved", groupId, memberId, memberType });
  }

  /** Adds a device, service principal or org contact that can then be added to groups; a device gets generated properties. */
  createOtherObject(type: OtherObjectType, id: string = this.random.guid()): string {
    if (this.memberTypeOf(id) !== undefined) throw new Error(`createOtherObject: an object with id '${id}' already exists`);
    if (type === "device") return this.createDevice({ id }).id;
    this.otherObjects.set(id, type);
    return id;
  }

  /** Registers a device; fields not given are generated. */
  createDevice(fields: Partial<ModelDevice> = {}): ModelDevice {
    const id = fields.id ?? this.random.guid();
    if (this.memberTypeOf(id) !== undefined) throw new Error(`createDevice: an object with id '${id}' already exists`);
    const device = this.newDevice(id, fields);
    this.otherObjects.set(id, "device");
    this.devices.set(id, device);
    this.record({ op: "created", kind: "device", id });
    return device;
  }

  /** Replaces the device object (copy on write) so snapshots taken earlier keep the old values. */
  updateDevice(id: string, patch: Partial<Omit<ModelDevice, "id">>): void {
    const current = this.devices.get(id);
    if (!current) throw new Error(`updateDevice: device '${id}' does not exist`);
    const { next, changed } = patched(current, deviceProperties, patch);
    if (changed.length === 0) return;
    this.devices.set(id, next);
    this.record({ op: "updated", kind: "device", id, properties: changed });
  }

  /** Devices are deleted for good (no deleted items container for them); every membership edge goes with it. */
  deleteDevice(id: string): void {
    if (!this.devices.has(id)) throw new Error(`deleteDevice: device '${id}' does not exist`);
    this.dropEdgesTo(id, "device");
    this.devices.delete(id);
    this.otherObjects.delete(id);
    this.record({ op: "hardDeleted", kind: "device", id, wasSoftDeleted: false });
  }

  /** Random mixed changes touching about fraction × (live users) objects, for benchmarks and soak tests. */
  applyChurn(fraction: number, seed?: number): ChurnResult {
    const random = seed === undefined ? this.random : new SeededRandom(seed);
    const result: ChurnResult = { usersChanged: 0, usersCreated: 0, usersDeleted: 0, membershipsAdded: 0, membershipsRemoved: 0 };
    const liveUsers: string[] = [];
    for (const user of this.users.values()) if (!user.deleted) liveUsers.push(user.id);
    const liveGroups: string[] = [];
    for (const group of this.groups.values()) if (!group.deleted) liveGroups.push(group.id);
    const operations = Math.max(1, Math.round(fraction * liveUsers.length));

    for (let n = 0; n < operations; n++) {
      const roll = random.next();
      if (roll < 0.45 && liveUsers.length > 0) {
        const id = random.pick(liveUsers);
        const patch: Partial<ModelUser> = {};
        const what = random.int(4);
        if (what === 0) patch.jobTitle = random.pick(jobTitles);
        else if (what === 1) patch.department = random.pick(departments);
        else if (what === 2) patch.displayName = `${random.pick(givenNames)} ${random.pick(surnames)}`;
        else patch.accountEnabled = !(this.users.get(id) as ModelUser).accountEnabled;
        if (random.next() < 0.3) patch.jobTitle = random.pick(jobTitles);
        const before = this.sequence;
        this.updateUser(id, patch);
        if (this.sequence !== before) result.usersChanged++;
      } else if (roll < 0.55) {
        const user = this.createUser();
        liveUsers.push(user.id);
        result.usersCreated++;
        const joins = liveGroups.length === 0 ? 0 : 1 + random.int(3);
        for (let j = 0; j < joins; j++) {
          const groupId = random.pick(liveGroups);
          if (!(this.members.get(groupId) as Map<string, MemberType>).has(user.id)) {
            this.addMember(groupId, user.id);
            result.membershipsAdded++;
          }
        }
      } else if (roll < 0.65 && liveUsers.length > 0) {
        const position = random.int(liveUsers.length);
        const id = liveUsers[position] as string;
        liveUsers[position] = liveUsers[liveUsers.length - 1] as string;
        liveUsers.pop();
        if (random.next() < 0.75) this.softDeleteUser(id);
        else this.hardDeleteUser(id);
        result.usersDeleted++;
      } else if (roll < 0.85 && liveUsers.length > 0 && liveGroups.length > 0) {
        const groupId = random.pick(liveGroups);
        const userId = random.pick(liveUsers);
        if (!(this.members.get(groupId) as Map<string, MemberType>).has(userId)) {
          this.addMember(groupId, userId);
          result.membershipsAdded++;
        }
      } else if (liveGroups.length > 0) {
        const groupId = random.pick(liveGroups);
        const edges = this.members.get(groupId) as Map<string, MemberType>;
        if (edges.size === 0) continue;
        let skip = random.int(edges.size);
        for (const memberId of edges.keys()) {
          if (skip-- > 0) continue;
          this.removeMember(groupId, memberId);
          result.membershipsRemoved++;
          break;
        }
      }
    }
    return result;
  }

  /** Calls listener with every later change as it is recorded (the stand-in's change notifications); returns the unsubscribe. */
  onChange(listener: (change: ChangeRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(change: DistributiveOmit<ChangeRecord, "seq">): void {
    const recorded = { ...change, seq: this.log.length + 1 } as ChangeRecord;
    this.log.push(recorded);
    for (const listener of this.listeners) listener(recorded);
  }

  /** Generated devices, not in the change log: the first always joins a group when there is one, the rest half the time. */
  private generateDevices(count: number, hostGroupIds: readonly string[]): void {
    for (let n = 0; n < count; n++) {
      const id = this.deviceRandom.guid();
      if (this.memberTypeOf(id) !== undefined) continue;
      this.otherObjects.set(id, "device");
      this.devices.set(id, this.newDevice(id, {}));
      if (hostGroupIds.length === 0 || (n > 0 && this.deviceRandom.next() < 0.5)) continue;
      this.members.get(this.deviceRandom.pick(hostGroupIds))?.set(id, "device");
    }
  }

  private newDevice(id: string, fields: Partial<ModelDevice>): ModelDevice {
    const random = this.deviceRandom;
    // A given operating system keeps its generated version, name and trust type plausible.
    const platform = devicePlatforms.find((candidate) => candidate.os === fields.operatingSystem) ?? random.pick(devicePlatforms);
    const roll = random.next();
    const name =
      platform.names.length === 0
        ? `DESKTOP-${random.uint32().toString(36).toUpperCase().padStart(7, "0").slice(-7)}`
        : `${random.pick(givenNames)}'s ${random.pick(platform.names)}`;
    const signIn = new Date(deviceSignInEpochMs - random.int(deviceSignInSpreadSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return {
      id,
      deviceId: fields.deviceId ?? random.guid(),
      displayName: fields.displayName ?? name,
      operatingSystem: fields.operatingSystem ?? platform.os,
      operatingSystemVersion: fields.operatingSystemVersion ?? random.pick(platform.versions),
      accountEnabled: fields.accountEnabled ?? roll >= 0.05,
      trustType: fields.trustType === undefined ? random.pick(platform.trust) : fields.trustType,
      approximateLastSignInDateTime: fields.approximateLastSignInDateTime === undefined ? (roll >= 0.05 && roll < 0.15 ? null : signIn) : fields.approximateLastSignInDateTime,
    };
  }

  private dropEdgesTo(memberId: string, memberType: MemberType): void {
    for (const [groupId, edges] of this.members) {
      if (edges.delete(memberId)) this.record({ op: "memberRemoved", groupId, memberId, memberType });
    }
  }

  private liveUser(method: string, id: string): ModelUser {
    const user = this.users.get(id);
    if (!user) throw new Error(`${method}: user '${id}' does not exist`);
    if (user.deleted) throw new Error(`${method}: user '${id}' is soft-deleted`);
    return user;
  }

  private liveGroup(method: string, id: string): ModelGroup {
    const group = this.groups.get(id);
    if (!group) throw new Error(`${method}: group '${id}' does not exist`);
    if (group.deleted) throw new Error(`${method}: group '${id}' is soft-deleted`);
    return group;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function generateUser(random: SeededRandom, index: number): ModelUser {
  const id = random.guid();
  const fixed = fixedUsers[index];
  const givenName = fixed?.givenName ?? random.pick(givenNames);
  const surname = fixed?.surname ?? random.pick(surnames);
  const displayName = fixed?.displayName ?? `${givenName} ${surname}`;
  const local = `${asciiSlug(givenName) || "user"}.${asciiSlug(surname) || "x"}.${index}`;
  const roll = random.next();
  // Fixed indexes guarantee each variant in small tenants; the rolls give realistic shares in large ones.
  const guest = index === 3 || (index > 5 && roll < 0.05);
  const disabled = index === 4 || (index > 5 && roll >= 0.05 && roll < 0.09);
  const noMail = index === 5 || (index > 5 && roll >= 0.09 && roll < 0.15);
  if (guest) {
    const domain = random.pick(guestDomains);
    const external = `${asciiSlug(givenName) || "guest"}.${asciiSlug(surname) || "x"}${index}`;
    return {
      id,
      displayName,
      givenName,
      surname,
      userPrincipalName: `${external}_${domain}#EXT#@${tenantDomain}`,
      mail: `${external}@${domain}`,
      accountEnabled: true,
      userType: "Guest",
      jobTitle: null,
      department: null,
      employeeId: null,
      deleted: false,
    };
  }
  return {
    id,
    displayName,
    givenName,
    surname,
    userPrincipalName: `${local}@${memberDomain}`,
    mail: noMail ? null : `${local}@${memberDomain}`,
    accountEnabled: !disabled,
    userType: "Member",
    jobTitle: random.pick(jobTitles),
    department: random.pick(departments),
    employeeId: String(100_000 + index),
    deleted: false,
  };
}

function groupKindFor(random: SeededRandom, index: number): GroupKind {
  const fixedKinds: GroupKind[] = ["security", "microsoft365", "distribution", "mailEnabledSecurity"];
  const fixed = fixedKinds[index];
  if (fixed) return fixed;
  const roll = random.next();
  if (roll < 0.5) return "security";
  if (roll < 0.75) return "microsoft365";
  if (roll < 0.875) return "distribution";
  return "mailEnabledSecurity";
}

function generateGroup(random: SeededRandom, index: number, kind: GroupKind): ModelGroup {
  const id = random.guid();
  const department = random.pick(departments);
  const displayName =
    index === 1 ? "Équipe Zürich" :
    kind === "security" ? `SG ${department} ${index}` :
    kind === "microsoft365" ? `${department} Team ${index}` :
    kind === "distribution" ? `DL ${department} ${index}` :
    `MES ${department} ${index}`;
  const nickname = `${asciiSlug(displayName)}${index}`;
  const mailEnabled = kind !== "security";
  return {
    id,
    displayName,
    description: random.next() < 0.2 ? null : `${displayName} (${kind})`,
    mail: mailEnabled ? `${nickname}@${memberDomain}` : null,
    mailEnabled,
    mailNickname: nickname,
    securityEnabled: kind === "security" || kind === "mailEnabledSecurity",
    groupTypes: kind === "microsoft365" ? ["Unified"] : [],
    deleted: false,
  };
}

/** Cumulative Zipf weights over a shuffled group order, so the large groups are of every kind. */
function popularityWeights(random: SeededRandom, groupCount: number, excludedIndex: number): Float64Array {
  const rank = new Int32Array(groupCount);
  for (let index = 0; index < groupCount; index++) rank[index] = index;
  for (let index = groupCount - 1; index > 0; index--) {
    const other = random.int(index + 1);
    const swap = rank[index] as number;
    rank[index] = rank[other] as number;
    rank[other] = swap;
  }
  const cumulative = new Float64Array(groupCount);
  let sum = 0;
  for (let index = 0; index < groupCount; index++) {
    if (index !== excludedIndex) sum += 1 / Math.pow((rank[index] as number) + 1, groupPopularityExponent);
    cumulative[index] = sum;
  }
  return cumulative;
}

function searchCumulative(cumulative: Float64Array, target: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((cumulative[middle] as number) > target) high = middle;
    else low = middle + 1;
  }
  return low;
}
