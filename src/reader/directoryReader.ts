// Reads one tenant's synced directory from Table Storage for consuming applications: every documented query, typed, with bad input refused.
import { odata, TableClient, type TableEntityResult, type TableServiceClientOptions } from "@azure/data-tables";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { changeRowKeyPattern, decodeCursor, encodeCursor, InvalidCursorError } from "../store/changeCursor";
import { emptyMemberGroups, memberGroupsColumns, memberGroupsColumnsOf, readMemberGroups, type MemberGroups } from "../store/memberGroups";
import { parseSchemaVersion, storeSchemaRowKey, storeSchemaVersion } from "../store/storeSchema";
import { isObjectId, tableKeys } from "../store/tableKeys";
import { directoryTableNames, type DirectoryTableNames } from "../store/tableNames";
import { lookupDigest, lookupKeys, lookupKindsInclude, lookupProperty, normalizeLookupValue, type LookupKind } from "../store/userLookupKeys";
import { InvalidReaderInputError, StoreSchemaError } from "./readerErrors";
import { memberTypes, type DirectoryChange, type DirectoryGroup, type DirectoryUser, type GroupMember, type GroupMembership, type MemberType, type Page, type SyncRunInfo } from "./readerTypes";

export interface DirectoryReaderOptions {
  /** The Entra tenant id (a GUID) whose copy to read; one reader reads one tenant. */
  tenantId: string;
  /** The Table endpoint, such as https://mystorage.table.core.windows.net; with `credential`, or DefaultAzureCredential when none is given. */
  tableServiceUrl?: string;
  /** Instead of the endpoint: a connection string (Azurite, local development). */
  connectionString?: string;
  credential?: TokenCredential;
  /** The sync's TABLE_PREFIX setting; default "entra". */
  tablePrefix?: string;
  /** Passed to every TableClient: retry options, extra pipeline policies (telemetry, request logging). */
  clientOptions?: TableServiceClientOptions;
}

export interface ListUsersOptions {
  /** Also users marked deleted (soft-deleted in Entra, or out of the sync scope); default false. */
  includeDeleted?: boolean;
  /** 1 to 1,000; default 100. */
  pageSize?: number;
  continuationToken?: string;
}

export interface ListUserGroupsOptions {
  /** Groups reached through nesting too; default true. */
  transitive?: boolean;
}

export interface ListGroupMembersOptions {
  /** Members reached through nested groups too (each once); default false. */
  transitive?: boolean;
  /** Only these member types; default every type. */
  memberTypes?: readonly MemberType[];
  /** 1 to 1,000; default 100. */
  pageSize?: number;
  continuationToken?: string;
}

export interface IsMemberOptions {
  /** Count membership through nested groups; default true. */
  transitive?: boolean;
}

export interface ReadChangesOptions {
  /** Resume right after this change (its `cursor`, as stored by the caller). */
  after?: string;
  /** Without `after`: start at this time. Without either, the feed starts at its oldest change. */
  since?: Date;
  /** Also changes of a run still in progress, which may still be joined by earlier-stamped ones; default false, so a stored cursor never skips a change. */
  includeRunInProgress?: boolean;
}

/** Table Storage returns at most 1,000 entities per response (Query Entities). */
const maxPageSize = 1000;
const defaultPageSize = 100;
/** Entra stores no mail, user principal name or employee id this long; a longer value is a mistake, not a lookup. */
const maxLookupValueLength = 1024;
/** Point reads in flight at once when a lookup matches several users. */
const pointReadConcurrency = 16;

type Row = TableEntityResult<Record<string, unknown>>;
type ReaderTables = { [K in keyof DirectoryTableNames | "changes"]: TableClient };

export class DirectoryReader {
  readonly tenantId: string;
  private readonly tables: ReaderTables;
  private schemaChecked: Promise<void> | undefined;

  constructor(options: DirectoryReaderOptions) {
    this.tenantId = objectId(options.tenantId, "tenantId");
    const prefix = options.tablePrefix ?? "entra";
    if (!/^[A-Za-z][A-Za-z0-9]{0,40}$/.test(prefix)) throw new InvalidReaderInputError(`tablePrefix must be letters and digits starting with a letter (the sync's TABLE_PREFIX); got ${quoted(prefix)}`);
    const names = { ...directoryTableNames(prefix), changes: `${prefix}Changes` };
    let open: (name: string) => TableClient;
    if (options.connectionString !== undefined) {
      const connectionString = options.connectionString;
      open = (name) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: connectionString.includes("http://"), ...options.clientOptions });
    } else if (options.tableServiceUrl !== undefined) {
      const url = options.tableServiceUrl;
      const credential = options.credential ?? new DefaultAzureCredential();
      open = (name) => new TableClient(url, name, credential, options.clientOptions);
    } else {
      throw new InvalidReaderInputError("Give tableServiceUrl (https://<account>.table.core.windows.net) or connectionString");
    }
    this.tables = Object.fromEntries(Object.entries(names).map(([key, name]) => [key, open(name)])) as ReaderTables;
  }

  /** The version of the table layout this reader reads. */
  static readonly schemaVersion = storeSchemaVersion;

  /** Fails unless the store was synced in the schema version this reader reads; every call checks once per reader. */
  async checkSchema(): Promise<void> {
    this.schemaChecked ??= this.readSchema().catch((error: unknown) => {
      this.schemaChecked = undefined;
      throw error;
    });
    return this.schemaChecked;
  }

  /** A user by object id, deleted ones included (see `deleted`); undefined when the store has no such user. */
  async getUser(userId: string): Promise<DirectoryUser | undefined> {
    const id = objectId(userId, "userId");
    await this.checkSchema();
    const key = tableKeys.user(this.tenantId, id);
    const row = await pointRead(this.tables.users, key.partitionKey, key.rowKey);
    return row && userFrom(row);
  }

  /** Active users whose mail is this address (case-insensitive); several where the directory has duplicates. */
  async findUsersByEmail(email: string): Promise<DirectoryUser[]> {
    return this.findUsers("mail", email, "email");
  }

  /** Active users with this user principal name (case-insensitive). */
  async findUsersByUserPrincipalName(userPrincipalName: string): Promise<DirectoryUser[]> {
    return this.findUsers("upn", userPrincipalName, "userPrincipalName");
  }

  /** Active users with this employee id (case-insensitive); several where the directory has duplicates. */
  async findUsersByEmployeeId(employeeId: string): Promise<DirectoryUser[]> {
    return this.findUsers("employeeId", employeeId, "employeeId");
  }

  /** Users a page at a time, in key order; active ones only unless `includeDeleted`. */
  async listUsers(options: ListUsersOptions = {}): Promise<Page<DirectoryUser>> {
    const size = pageSize(options.pageSize);
    const after = options.continuationToken === undefined ? undefined : decodeKeyToken(options.continuationToken, (partitionKey, rowKey) => partitionKey === tableKeys.user(this.tenantId, rowKey).partitionKey);
    await this.checkSchema();
    const filter = options.includeDeleted ? undefined : odata`deleted eq ${false}`;
    const range = { from: `${this.tenantId}_`, to: `${this.tenantId}\`` };
    const items: DirectoryUser[] = [];
    let last: Row | undefined;
    for await (const row of entitiesAfter(this.tables.users, range, { filter }, after, size)) {
      items.push(userFrom(row));
      last = row;
      if (items.length === size) break;
    }
    return { items, continuationToken: items.length === size && last ? encodeKeyToken(String(last.partitionKey), String(last.rowKey)) : undefined };
  }

  /** A group by object id, deleted ones included (see `deleted`); undefined when the store has no such group. */
  async getGroup(groupId: string): Promise<DirectoryGroup | undefined> {
    const id = objectId(groupId, "groupId");
    await this.checkSchema();
    const key = tableKeys.group(this.tenantId, id);
    const row = await pointRead(this.tables.groups, key.partitionKey, key.rowKey);
    return row && groupFrom(row);
  }

  /** Several groups by id, read in parallel; ids the store does not have are left out. */
  async getGroups(groupIds: readonly string[]): Promise<DirectoryGroup[]> {
    const ids = [...new Set(groupIds.map((id) => objectId(id, "groupIds[]")))];
    await this.checkSchema();
    const rows = await mapConcurrently(ids, pointReadConcurrency, (id) => {
      const key = tableKeys.group(this.tenantId, id);
      return pointRead(this.tables.groups, key.partitionKey, key.rowKey);
    });
    return rows.flatMap((row) => (row ? [groupFrom(row)] : []));
  }

  /** The groups a user (or a group) belongs to now, from its own row (one point read; a group's takes two): directly, or also through nesting. */
  async listUserGroups(memberId: string, options: ListUserGroupsOptions = {}): Promise<GroupMembership[]> {
    const id = objectId(memberId, "memberId");
    await this.checkSchema();
    const lists = await this.memberGroupsOf(id);
    const direct = new Set(lists.directGroups);
    const groups = options.transitive === false ? lists.directGroups : lists.groups;
    return groups.map((groupId) => ({ groupId, direct: direct.has(groupId), inherited: !direct.has(groupId) }));
  }

  /** Whether a user (or a group) belongs to a group now, through nesting too unless `transitive: false`: one point read of the member's row. */
  async isMember(memberId: string, groupId: string, options: IsMemberOptions = {}): Promise<boolean> {
    const member = objectId(memberId, "memberId");
    const group = objectId(groupId, "groupId");
    await this.checkSchema();
    const lists = await this.memberGroupsOf(member);
    return (options.transitive === false ? lists.directGroups : lists.groups).includes(group);
  }

  /** A user's effective roles under the sync's ROLE_MAPPING; [] for an unknown or deleted user. */
  async getUserRoles(userId: string): Promise<string[]> {
    const id = objectId(userId, "userId");
    await this.checkSchema();
    const key = tableKeys.user(this.tenantId, id);
    const row = await pointRead(this.tables.users, key.partitionKey, key.rowKey, ["roles", "deleted"]);
    return row && row.deleted !== true ? stringArray(row.roles) : [];
  }

  /**
   * A group's members a page at a time, in id order; with `transitive`, everyone reached through nested groups, each once.
   * Only active memberships count: soft-deleted members and groups, and users outside the sync scope, are left out.
   */
  async listGroupMembers(groupId: string, options: ListGroupMembersOptions = {}): Promise<Page<GroupMember>> {
    const root = objectId(groupId, "groupId");
    const size = pageSize(options.pageSize);
    const types = memberTypeFilter(options.memberTypes);
    const after = options.continuationToken === undefined ? undefined : decodeMemberToken(options.continuationToken, root);
    await this.checkSchema();
    const groups = options.transitive ? await this.descendantGroups(root) : [root];
    const typeFilter = types ? "(" + types.map((type) => odata`memberType eq ${type}`).join(" or ") + ")" : undefined;
    const filter = odata`active eq ${true}` + (typeFilter ? ` and ${typeFilter}` : "");
    // Each group's rows come in member id order (its 4 partitions follow the id's first hex digit), so merging them lists everyone once.
    const streams = groups.map((group) => {
      const range = { from: `${this.tenantId}_${group}_`, to: `${this.tenantId}_${group}\`` };
      const start = after === undefined ? undefined : tableKeys.member(this.tenantId, group, after);
      return new Cursor(entitiesAfter(this.tables.members, range, { filter, select: ["PartitionKey", "RowKey", "memberType"] }, start, size)[Symbol.asyncIterator](), group === root);
    });
    await Promise.all(streams.map((stream) => stream.advance()));
    const items: GroupMember[] = [];
    while (items.length < size) {
      const heads = streams.filter((stream) => stream.head !== undefined);
      if (heads.length === 0) break;
      const next = heads.reduce((min, stream) => (String(stream.head!.rowKey) < String(min.head!.rowKey) ? stream : min));
      const id = String(next.head!.rowKey);
      const same = heads.filter((stream) => String(stream.head!.rowKey) === id);
      if (id !== root) items.push({ id, memberType: asMemberType(next.head!.memberType), direct: same.some((stream) => stream.isRoot) });
      await Promise.all(same.map((stream) => stream.advance()));
    }
    await Promise.all(streams.map((stream) => stream.close()));
    const more = items.length === size && streams.some((stream) => stream.head !== undefined);
    return { items, continuationToken: more ? encodeMemberToken(root, items[items.length - 1]!.id) : undefined };
  }

  /** The change feed from a stored cursor (or a time), oldest first; store each change's `cursor` once handled to resume exactly there. */
  async *changes(options: ReadChangesOptions = {}): AsyncIterable<DirectoryChange> {
    let filter = odata`PartitionKey eq ${this.tenantId}`;
    if (options.after !== undefined) {
      try {
        filter += odata` and RowKey gt ${decodeCursor(options.after)}`;
      } catch (error) {
        if (error instanceof InvalidCursorError) throw new InvalidReaderInputError("after must be the cursor of a change this feed returned, stored unchanged", { cause: error });
        throw error;
      }
    } else if (options.since !== undefined) {
      if (!(options.since instanceof Date) || Number.isNaN(options.since.getTime())) throw new InvalidReaderInputError("since must be a valid Date");
      filter += odata` and RowKey ge ${options.since.toISOString()}`;
    }
    await this.checkSchema();
    if (!options.includeRunInProgress) {
      // Runs of a tenant never overlap, and a run records its changes by the time it ends: everything before the last finished run's end is final.
      const settled = await this.lastFinishedRunEnd();
      if (settled === undefined) return;
      filter += odata` and RowKey lt ${settled}`;
    }
    try {
      for await (const row of this.tables.changes.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        const rowKey = String(row.rowKey);
        if (!changeRowKeyPattern.test(rowKey)) continue;
        yield {
          cursor: encodeCursor(rowKey),
          kind: text(row.kind) ?? "",
          objectId: text(row.objectId) ?? "",
          groupId: text(row.groupId),
          at: new Date(text(row.at) ?? rowKey.slice(0, 24)),
          runId: text(row.runId) ?? "",
          description: text(row.description) ?? "",
        };
      }
    } catch (error) {
      // A deployment that never recorded a change (the CLI alone) has no feed table: no changes.
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** The newest run that succeeded (not a dry run); undefined before the first one. */
  async lastSuccessfulSync(): Promise<SyncRunInfo | undefined> {
    await this.checkSchema();
    const filter = odata`PartitionKey eq ${this.tenantId} and status eq ${"succeeded"} and dryRun eq ${false}`;
    // RowKeys are inverted times, so the first match is the newest.
    for await (const row of this.tables.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ["runId", "mode", "trigger", "startedAt", "endedAt"] } })) {
      return { runId: text(row.runId) ?? "", mode: row.mode === "full" ? "full" : "incremental", trigger: text(row.trigger) ?? "", startedAt: date(row.startedAt) ?? new Date(0), endedAt: date(row.endedAt) };
    }
    return undefined;
  }

  private async lastFinishedRunEnd(): Promise<string | undefined> {
    const filter = odata`PartitionKey eq ${this.tenantId} and status ne ${"running"}`;
    try {
      for await (const row of this.tables.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ["endedAt"] } })) return date(row.endedAt)?.toISOString();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return undefined;
  }

  private async findUsers(kind: LookupKind, value: string, name: string): Promise<DirectoryUser[]> {
    if (typeof value !== "string" || value.length === 0) throw new InvalidReaderInputError(`${name} must be a non-empty string`);
    if (value.length > maxLookupValueLength) throw new InvalidReaderInputError(`${name} is ${value.length} characters long; no directory value is longer than ${maxLookupValueLength}`);
    await this.checkSchema();
    const wanted = normalizeLookupValue(value);
    const range = lookupKeys.range(this.tenantId, lookupDigest(value));
    const filter = odata`PartitionKey eq ${range.partitionKey} and RowKey ge ${range.rowKeyFrom} and RowKey lt ${range.rowKeyTo}`;
    const ids: string[] = [];
    // One row per user and value: a user holding this value only for another kind (a mail asked for as a UPN) is skipped here, unread.
    for await (const row of this.tables.userLookup.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ["RowKey", "kinds"] } })) {
      const id = String(row.rowKey).slice(range.rowKeyFrom.length);
      if (isObjectId(id) && lookupKindsInclude(row.kinds, kind)) ids.push(id);
    }
    const rows = await mapConcurrently(ids, pointReadConcurrency, (id) => {
      const key = tableKeys.user(this.tenantId, id);
      return pointRead(this.tables.users, key.partitionKey, key.rowKey);
    });
    // The user row is the truth: an index row a crash left behind never yields a user whose value has moved on.
    const property = lookupProperty[kind];
    return rows.flatMap((row) => (row && row.deleted !== true && typeof row[property] === "string" && normalizeLookupValue(row[property] as string) === wanted ? [userFrom(row)] : []));
  }

  /** The group and every active group nested in it, at any depth, each once (cycles tolerated). */
  private async descendantGroups(root: string): Promise<string[]> {
    const seen = new Set([root]);
    let level = [root];
    while (level.length > 0) {
      const children = await mapConcurrently(level, pointReadConcurrency, async (group) => {
        const filter = odata`PartitionKey ge ${`${this.tenantId}_${group}_`} and PartitionKey lt ${`${this.tenantId}_${group}\``} and memberType eq ${"group"} and active eq ${true}`;
        const found: string[] = [];
        for await (const row of this.tables.members.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ["RowKey"] } })) found.push(String(row.rowKey));
        return found;
      });
      level = [];
      for (const child of children.flat()) {
        if (seen.has(child) || !isObjectId(child)) continue;
        seen.add(child);
        level.push(child);
      }
    }
    return [...seen];
  }

  /** A member's lists from its user row, else its group row; its overflow rows only when the row says it has some. A member marked deleted belongs to nothing. */
  private async memberGroupsOf(id: string): Promise<MemberGroups> {
    const select = ["deleted", ...memberGroupsColumns];
    const userKey = tableKeys.user(this.tenantId, id);
    const groupKey = tableKeys.group(this.tenantId, id);
    const row = (await pointRead(this.tables.users, userKey.partitionKey, userKey.rowKey, select)) ?? (await pointRead(this.tables.groups, groupKey.partitionKey, groupKey.rowKey, select));
    if (!row || row.deleted === true) return emptyMemberGroups();
    return readMemberGroups(this.tables.memberGroupsOverflow, { tenantId: this.tenantId, memberId: id }, memberGroupsColumnsOf(row));
  }

  private async readSchema(): Promise<void> {
    const row = await pointRead(this.tables.syncState, this.tenantId, storeSchemaRowKey);
    const found = parseSchemaVersion(row?.value);
    if (found === storeSchemaVersion) return;
    if (found === undefined) {
      throw new StoreSchemaError(
        "notSynced",
        `No synced directory of tenant ${this.tenantId} in tables ${this.tables.users.tableName}…: no sync has completed there yet, or it was written by a sync older than schema version ${storeSchemaVersion} (store schema version 1). This reader reads schema version ${storeSchemaVersion}: run the sync (it upgrades the store on its next run), and check tablePrefix.`,
        row ? 1 : undefined,
        storeSchemaVersion,
      );
    }
    throw new StoreSchemaError(
      "unsupportedSchema",
      `The store of tenant ${this.tenantId} has schema version ${found}; this reader reads schema version ${storeSchemaVersion}. ${found > storeSchemaVersion ? "Upgrade the reader library to the version matching the deployed sync." : "Upgrade the sync: its next run brings the store to the current version."}`,
      found,
      storeSchemaVersion,
    );
  }
}

/** One member stream of the merge: its current row, read ahead one at a time. */
class Cursor {
  head: Row | undefined;
  constructor(
    private readonly rows: AsyncIterator<Row>,
    readonly isRoot: boolean,
  ) {}

  async advance(): Promise<void> {
    const next = await this.rows.next();
    this.head = next.done ? undefined : next.value;
  }

  async close(): Promise<void> {
    await this.rows.return?.();
  }
}

/** Rows of a PartitionKey range in key order, strictly after `after`: first the rest of its partition, then the partitions after it. */
async function* entitiesAfter(table: TableClient, range: { from: string; to: string }, query: { filter: string | undefined; select?: string[] }, after: { partitionKey: string; rowKey: string } | undefined, size: number): AsyncIterable<Row> {
  const and = query.filter ? ` and (${query.filter})` : "";
  const filters = after
    ? [odata`PartitionKey eq ${after.partitionKey} and RowKey gt ${after.rowKey}` + and, odata`PartitionKey gt ${after.partitionKey} and PartitionKey lt ${range.to}` + and]
    : [odata`PartitionKey ge ${range.from} and PartitionKey lt ${range.to}` + and];
  for (const filter of filters) {
    for await (const page of table.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: query.select } }).byPage({ maxPageSize: Math.min(maxPageSize, size + 1) })) {
      for (const row of page) yield row;
    }
  }
}

function objectId(value: unknown, name: string): string {
  const id = typeof value === "string" && value.length <= 36 ? value.toLowerCase() : undefined;
  if (!isObjectId(id)) throw new InvalidReaderInputError(`${name} must be a directory object id (a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e); got ${quoted(value)}`);
  return id;
}

function pageSize(value: number | undefined): number {
  if (value === undefined) return defaultPageSize;
  if (!Number.isInteger(value) || value < 1 || value > maxPageSize) throw new InvalidReaderInputError(`pageSize must be a whole number from 1 to ${maxPageSize}; got ${quoted(value)}`);
  return value;
}

function memberTypeFilter(types: readonly MemberType[] | undefined): readonly MemberType[] | undefined {
  if (types === undefined) return undefined;
  if (!Array.isArray(types) || types.length === 0 || types.some((type) => !memberTypes.includes(type))) {
    throw new InvalidReaderInputError(`memberTypes must be a non-empty list of ${memberTypes.join(", ")}; got ${quoted(types)}`);
  }
  return types;
}

/** Continuation tokens are opaque to callers but checked here: only keys of this tenant's range, in the form the reader wrote, reach a filter. */
function encodeKeyToken(partitionKey: string, rowKey: string): string {
  return Buffer.from(JSON.stringify({ p: partitionKey, r: rowKey }), "utf8").toString("base64url");
}

function decodeKeyToken(token: string, belongs: (partitionKey: string, rowKey: string) => boolean): { partitionKey: string; rowKey: string } {
  const parsed = parseToken(token);
  const partitionKey = parsed?.p;
  const rowKey = parsed?.r;
  if (typeof partitionKey !== "string" || typeof rowKey !== "string" || !isObjectId(rowKey) || !belongs(partitionKey, rowKey)) {
    throw new InvalidReaderInputError("continuationToken is not one this listing returned; pass it back unchanged");
  }
  return { partitionKey, rowKey };
}

function encodeMemberToken(groupId: string, lastMemberId: string): string {
  return Buffer.from(JSON.stringify({ g: groupId, a: lastMemberId }), "utf8").toString("base64url");
}

function decodeMemberToken(token: string, groupId: string): string {
  const parsed = parseToken(token);
  if (parsed?.g !== groupId || typeof parsed.a !== "string" || !isObjectId(parsed.a)) {
    throw new InvalidReaderInputError("continuationToken is not one this group's member listing returned; pass it back unchanged");
  }
  return parsed.a;
}

function parseToken(token: unknown): Record<string, unknown> | undefined {
  if (typeof token !== "string" || token.length > 400 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function pointRead(table: TableClient, partitionKey: string, rowKey: string, select?: string[]): Promise<Row | undefined> {
  try {
    return await table.getEntity<Record<string, unknown>>(partitionKey, rowKey, select ? { queryOptions: { select } } : undefined);
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

function userFrom(row: Row): DirectoryUser {
  return {
    id: String(row.rowKey),
    displayName: text(row.displayName),
    givenName: text(row.givenName),
    surname: text(row.surname),
    userPrincipalName: text(row.userPrincipalName),
    mail: text(row.mail),
    accountEnabled: typeof row.accountEnabled === "boolean" ? row.accountEnabled : undefined,
    userType: text(row.userType),
    jobTitle: text(row.jobTitle),
    department: text(row.department),
    employeeId: text(row.employeeId),
    roles: stringArray(row.roles),
    deleted: row.deleted === true,
    deletedAt: row.deleted === true ? date(row.deletedAt) : undefined,
    deletedReason: row.deleted === true ? (row.deletedReason === "outOfScope" ? "outOfScope" : "directory") : undefined,
    changedAt: date(row.changedAt),
  };
}

function groupFrom(row: Row): DirectoryGroup {
  const kind = text(row.kind);
  return {
    id: String(row.rowKey),
    displayName: text(row.displayName),
    description: text(row.description),
    mail: text(row.mail),
    mailEnabled: typeof row.mailEnabled === "boolean" ? row.mailEnabled : undefined,
    mailNickname: text(row.mailNickname),
    securityEnabled: typeof row.securityEnabled === "boolean" ? row.securityEnabled : undefined,
    groupTypes: stringArray(row.groupTypes),
    kind: kind === "security" || kind === "microsoft365" || kind === "distribution" || kind === "mailEnabledSecurity" ? kind : undefined,
    deleted: row.deleted === true,
    deletedAt: row.deleted === true ? date(row.deletedAt) : undefined,
    changedAt: date(row.changedAt),
  };
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function date(value: unknown): Date | undefined {
  const parsed = typeof value === "string" && value !== "" ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
}

/** JSON array text (roles, groupTypes) as strings; anything else as []. */
function stringArray(value: unknown): string[] {
  if (typeof value !== "string" || value === "") return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === "string") : [];
  } catch {
    return [];
  }
}

function asMemberType(value: unknown): MemberType {
  return memberTypes.includes(value as MemberType) ? (value as MemberType) : "other";
}

function quoted(value: unknown): string {
  const shown = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 60)}…` : shown);
}

function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error ? Number((error as { statusCode: unknown }).statusCode) : undefined;
}
