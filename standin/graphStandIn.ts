// A local HTTPS stand-in for Microsoft Graph v1.0 (users, groups, devices delta, delta queries) and the Entra token endpoint, with fault injection.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ensureStandInCertificate } from "./certificate";
import {
  DeltaQueryEngine,
  defaultGroupSelect,
  defaultUserSelect,
  knownDeviceProperties,
  knownGroupProperties,
  knownUserProperties,
  memberODataType,
  renderGroup,
  renderUser,
  type DeltaQueryShape,
  type DeltaResource,
  type PagingSession,
  type SoftDeletedMembership,
  type UpdatedObjectProperties,
} from "./deltaQueryEngine";
import { DeviceCodeGrant, deviceCodeGrantTypes } from "./deviceCodeGrant";
import { DirectoryModel, type MemberType } from "./directoryModel";
import { SubscriptionService } from "./subscriptionService";
import { TokenIssuer, type AccessTokenClaims, type ClientAssertionRecord, type RegisteredClient, type TokenSubject, type TokenVerification } from "./tokenIssuer";

export interface StandInOptions {
  /** Default: a fixed GUID. */
  tenantId?: string;
  /** Default: DirectoryModel.generate(). */
  model?: DirectoryModel;
  /** Where the certificate lives (created if missing). */
  certDir: string;
  /** Default 0: a free port; the server listens on 127.0.0.1 (and ::1 when available). */
  port?: number;
  /** Default 200. */
  usersPageSize?: number;
  /** Default 100 objects (group appearances) per page. */
  groupsPageSize?: number;
  /** Default 200 devices per page of /devices/delta. */
  devicesPageSize?: number;
  /** In a full read a group with more members appears several times, each with up to this many members@delta entries; default 50. */
  membersPerGroupAppearance?: number;
  /** Registered apps; default one with User.Read.All and GroupMember.Read.All. */
  clients?: RegisteredClient[];
  /** "kept" (newer docs, default): soft-deleting a user produces no group delta; "reportedRemoved" (older docs): it reports removal, restore re-adds. */
  softDeletedUserMembership?: SoftDeletedMembership;
  /** "changed" (default): updated objects carry only changed properties; "selected": all tracked ones unless Prefer: return=minimal. */
  updatedObjectProperties?: UpdatedObjectProperties;
  /** Deliver the first change of each incremental round twice (delta-query-overview, "Replays"); default false. */
  replayChanges?: boolean;
  /** Access token lifetime; default 3599 s as Entra issues. */
  accessTokenLifetimeSeconds?: number;
  /** The device authorization grant's polling interval; default 5 s as Entra answers (MSAL waits this long after each authorization_pending). */
  deviceCodeIntervalSeconds?: number;
  /** Change notifications per POST to a notification URL; default 100 (a guess: Graph batches them but names no number). */
  maxNotificationsPerPost?: number;
  /** Waits before redelivering a notification the endpoint refused; default 1, 4 and 16 s (Graph retries for up to 4 hours). */
  deliveryRetryDelaysMs?: readonly number[];
  /** Notification POSTs in flight at once; default 8 (a guess). */
  maxConcurrentDeliveries?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. "/v1.0/users/delta". */
  path: string;
  status: number;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** Graph identity-and-access resource units the request costs (0 outside /v1.0). */
  resourceUnits: number;
  /** Path with the query string, as received. */
  url: string;
}

export type ExpiredTokenStyle = "gone" | "badRequest";

export interface StandInFaults {
  /** Added to every response. */
  latencyMs: number;
  /** The next count Graph requests answer 429 with Retry-After (default 1 s). */
  throttleNext(count: number, retryAfterSeconds?: number): void;
  /** Enforce the resource-unit quota per 10 s: "documented" uses the tenant-size quota of throttling-limits, a number overrides it; undefined stops. */
  enforceQuota(quota: "documented" | number | undefined): void;
  /** The next count Graph requests answer status, with Retry-After when given. */
  failNext(count: number, status: 500 | 502 | 503 | 504, retryAfterSeconds?: number): void;
  /** Every deltaLink and nextLink issued so far becomes invalid: 410 resyncRequired with Location, or 400 syncStateNotFound. */
  expireDeltaTokens(style?: ExpiredTokenStyle): void;
  /** After n more Graph requests, answer 500 to everything (a crash mid-run); undefined clears. */
  failAfterGraphRequests(n: number | undefined): void;
  clear(): void;
}

const defaultTenantId = "7e57a7e0-5ad1-4c3b-9d0e-57a4d1e5c0de";
const defaultClients: RegisteredClient[] = [
  { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret", roles: ["User.Read.All", "GroupMember.Read.All"] },
];
const graphJsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
/** Graph list endpoints: 100 objects per page unless $top says otherwise, at most 999 (Graph paging limits). */
const defaultListPageSize = 100;
const maxListPageSize = 999;
/** $filter on delta accepts at most 50 ids (user-delta, group-delta); device-delta only says the URL length limits it. */
const maxFilterIds = 50;
/** Identity and access throttling window and per app+tenant quotas by tenant size (throttling-limits). */
const throttleWindowMs = 10_000;
const resourceUnitQuota = { small: 3_500, medium: 5_000, large: 8_000 };
/** x-ms-throttle-limit-percentage is sent only above 80 % of the quota (throttling-limits). */
const throttleReportThreshold = 0.8;

const usersReadRoles = ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const usersListRoles = [...usersReadRoles, "User.ReadBasic.All"];
/** Deleted groups are read with Group.Read.All; GroupMember.Read.All, enough for the groups delta, is not (directory-deleteditems-list). */
const deletedGroupsReadRoles = ["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const groupsReadRoles = ["GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
/** device-delta names Device.Read.All; device-list also accepts Device.ReadWrite.All and Directory.*. */
const devicesReadRoles = ["Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/** Resources served as plain lists and single objects; devices have only delta here. */
type ListResource = Exclude<DeltaResource, "devices">;

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

class GraphRequestError extends Error {
  override readonly name = "GraphRequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What a state token carries: the round's query, so later requests need not repeat it. */
interface TokenQuery {
  s: readonly string[] | null;
  m: boolean;
  f: readonly string[] | null;
}
type StateToken =
  | { v: 1; k: "skip"; r: DeltaResource | "list"; sid: string; p: number; e: number; q: TokenQuery }
  | { v: 1; k: "delta"; r: DeltaResource; n: number; e: number; q: TokenQuery };

export class GraphStandIn {
  readonly url: string;
  readonly tenantId: string;
  readonly model: DirectoryModel;
  /** Every request in arrival order, token endpoint and unknown paths included. */
  readonly requests: RecordedRequest[] = [];
  readonly faults: StandInFaults;
  /** Change-notification subscriptions, their deliveries, and lifecycle notifications on demand. */
  readonly subscriptions: SubscriptionService;
  /** Device-code sign-ins: tests list the codes asked for and approve, decline or expire them, as a user at the verification page would. */
  readonly deviceCodes: DeviceCodeGrant;

  private readonly issuer: TokenIssuer;
  private readonly engine: DeltaQueryEngine;
  private readonly stateKey = randomBytes(32);
  private readonly servers: https.Server[];
  private epoch = 0;
  private readonly expiredEpochStyles = new Map<number, ExpiredTokenStyle>();
  private latencyMs = 0;
  private throttleRemaining = 0;
  private throttleRetryAfter = 1;
  private failRemaining = 0;
  private failStatus: 500 | 502 | 503 | 504 = 500;
  private failRetryAfter: number | undefined;
  private crashAfter: number | undefined;
  private readonly resourceUnitWindow = new Map<string, Array<{ at: number; units: number }>>();
  private enforcedQuota: "documented" | number | undefined;

  private constructor(url: string, tenantId: string, model: DirectoryModel, servers: https.Server[], options: StandInOptions) {
    this.url = url;
    this.tenantId = tenantId;
    this.model = model;
    this.servers = servers;
    this.issuer = new TokenIssuer(url, tenantId, options.clients ?? defaultClients, options.accessTokenLifetimeSeconds ?? 3599);
    this.deviceCodes = new DeviceCodeGrant(this.issuer, options.accessTokenLifetimeSeconds ?? 3599, { intervalSeconds: options.deviceCodeIntervalSeconds });
    this.engine = new DeltaQueryEngine(model, {
      usersPageSize: positive("usersPageSize", options.usersPageSize ?? 200),
      groupsPageSize: positive("groupsPageSize", options.groupsPageSize ?? 100),
      devicesPageSize: positive("devicesPageSize", options.devicesPageSize ?? 200),
      membersPerGroupAppearance: positive("membersPerGroupAppearance", options.membersPerGroupAppearance ?? 50),
      softDeletedMembership: options.softDeletedUserMembership ?? "kept",
      updatedObjectProperties: options.updatedObjectProperties ?? "changed",
      replayChanges: options.replayChanges ?? false,
    });
    this.subscriptions = new SubscriptionService(url, tenantId, model, {
      maxNotificationsPerPost: positive("maxNotificationsPerPost", options.maxNotificationsPerPost ?? 100),
      deliveryRetryDelaysMs: options.deliveryRetryDelaysMs ?? [1_000, 4_000, 16_000],
      maxConcurrentDeliveries: positive("maxConcurrentDeliveries", options.maxConcurrentDeliveries ?? 8),
    });
    const self = this;
    this.faults = {
      get latencyMs() {
        return self.latencyMs;
      },
      set latencyMs(value: number) {
        self.latencyMs = Math.max(0, value);
      },
      enforceQuota(quota) {
        self.enforcedQuota = quota;
      },
      throttleNext(count, retryAfterSeconds = 1) {
        self.throttleRemaining = count;
        self.throttleRetryAfter = retryAfterSeconds;
      },
      failNext(count, status, retryAfterSeconds) {
        self.failRemaining = count;
        self.failStatus = status;
        self.failRetryAfter = retryAfterSeconds;
      },
      expireDeltaTokens(style = "gone") {
        self.expiredEpochStyles.set(self.epoch, style);
        self.epoch++;
      },
      failAfterGraphRequests(n) {
        self.crashAfter = n;
      },
      clear() {
        self.latencyMs = 0;
        self.throttleRemaining = 0;
        self.failRemaining = 0;
        self.crashAfter = undefined;
        self.enforcedQuota = undefined;
      },
    };
  }

  /** Starts the HTTPS server on a free port (or options.port) and resolves once it listens. */
  static async start(options: StandInOptions): Promise<GraphStandIn> {
    const { certPath, keyPath } = ensureStandInCertificate(options.certDir);
    const tls = { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) };
    let standIn: GraphStandIn | undefined;
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      if (standIn) void standIn.handle(request, response);
      else response.writeHead(503).end();
    };
    const primary = https.createServer(tls, handler);
    await listen(primary, options.port ?? 0, "127.0.0.1");
    const port = (primary.address() as AddressInfo).port;
    const servers = [primary];
    // Where localhost resolves to ::1 first, clients connect there; a second listener on the same port serves them.
    const secondary = https.createServer(tls, handler);
    try {
      await listen(secondary, port, "::1");
      servers.push(secondary);
    } catch {
      secondary.close();
    }
    standIn = new GraphStandIn(`https://localhost:${port}`, options.tenantId ?? defaultTenantId, options.model ?? DirectoryModel.generate(), servers, options);
    return standIn;
  }

  /** Requests to /v1.0 only. */
  graphRequestCount(): number {
    return this.requests.filter((request) => isGraphPath(request.path)).length;
  }

  /** Client assertions presented to the token endpoint, for tests of certificate and federated credentials. */
  get clientAssertions(): readonly ClientAssertionRecord[] {
    return this.issuer.clientAssertions;
  }

  /** Adds or replaces an app registration at the token endpoint. */
  registerClient(client: RegisteredClient): void {
    this.issuer.registerClient(client);
  }

  /** Changes a registration: rotate or revoke secrets, add certificates or federated credentials, change Graph roles. */
  updateClient(clientId: string, changes: Partial<Omit<RegisteredClient, "clientId">>): void {
    this.issuer.updateClient(clientId, changes);
  }

  /** Serves another tenant too: registered apps count as consented there, and their tokens carry its tid. */
  addTenant(tenantId: string): void {
    this.issuer.addTenant(tenantId);
  }

  /** Signs a token as this Entra stand-in does, for identities that get tokens elsewhere (the managed identity stand-in). */
  issueAccessToken(subject: TokenSubject, audience: string, version: "1.0" | "2.0" = "1.0"): string {
    return this.issuer.issueFor(subject, audience, version);
  }

  /** Verifies a token this stand-in signed for one of the audiences (the Key Vault stand-in checks its callers with it). */
  verifyAccessToken(token: string, audiences: readonly string[], options: { anyTenant?: boolean } = {}): TokenVerification {
    return this.issuer.verifyFor(token, { audiences, anyTenant: options.anyTenant });
  }

  /** Audiences a Graph token may carry here: Graph's identifiers and this stand-in's URL. */
  graphAudiences(): string[] {
    return this.issuer.graphAudienceList();
  }

  async stop(): Promise<void> {
    this.subscriptions.stop();
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = request.method ?? "GET";
    const rawUrl = request.url ?? "/";
    const parsed = new URL(rawUrl, this.url);
    const path = parsed.pathname;
    const graph = isGraphPath(path);
    const ids: RequestIds = {
      requestId: randomUUID(),
      clientRequestId: headerValue(request, "client-request-id") ?? "",
    };
    if (!ids.clientRequestId) ids.clientRequestId = ids.requestId;
    const resourceUnits = graph ? resourceUnitCost(method, path, parsed.searchParams) : 0;
    let reply: Reply;
    try {
      const body = method === "POST" || method === "PATCH" ? await readBody(request) : "";
      reply = this.crashAfter === 0 ? this.graphError(ids, 500, "generalException", "An unspecified error has occurred.") : await this.route(request, method, parsed, body, ids, resourceUnits);
      if (graph && this.crashAfter !== undefined && this.crashAfter > 0) this.crashAfter--;
    } catch (error) {
      reply = this.graphError(ids, 500, "generalException", `Stand-in failure: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    this.requests.push({ method, path, status: reply.status, at, resourceUnits, url: rawUrl });
    if (!response.destroyed) {
      response.writeHead(reply.status, { ...reply.headers, "Content-Length": Buffer.byteLength(reply.body) });
      response.end(reply.body);
    }
  }

  private route(request: IncomingMessage, method: string, url: URL, body: string, ids: RequestIds, resourceUnits: number): Reply | Promise<Reply> {
    const path = url.pathname;
    if (isGraphPath(path)) return this.graphRequest(request, method, url, body, ids, resourceUnits);

    const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    if (discovery && method === "GET") {
      const tenant = decodeURIComponent(discovery[1] as string);
      // Entra answers discovery for an unknown tenant with the same error body as its token endpoint (MSAL reports endpoints_resolution_error).
      const problem = tenant === "common" || tenant === "organizations" ? undefined : this.issuer.tenantProblem(tenant);
      return problem ? this.entraJson(ids, problem.status, problem.body) : this.entraJson(ids, 200, this.issuer.openIdConfiguration(tenant));
    }
    const keys = /^\/([^/]+)\/discovery\/v2\.0\/keys$/.exec(path);
    if (keys && method === "GET") return this.entraJson(ids, 200, this.issuer.jwks());
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (token) {
      if (method !== "POST") {
        const error = this.issuer.error(400, "invalid_request", 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`);
        return this.entraJson(ids, error.status, error.body);
      }
      const form = new URLSearchParams(body);
      const tenant = decodeURIComponent(token[1] as string);
      // Public-client grants (device code, and the refresh token it gives) are the device-code module's; the rest are client credentials.
      const publicGrant = deviceCodeGrantTypes.includes(form.get("grant_type") ?? "") || form.get("grant_type") === "refresh_token";
      const result = publicGrant ? this.deviceCodes.redeem(tenant, form) : this.issuer.tokenRequest(tenant, form, headerValue(request, "authorization"));
      return this.entraJson(ids, result.status, result.body);
    }
    const deviceCode = /^\/([^/]+)\/oauth2\/v2\.0\/devicecode$/.exec(path);
    if (deviceCode && method === "POST") {
      const result = this.deviceCodes.start(decodeURIComponent(deviceCode[1] as string), new URLSearchParams(body));
      return this.entraJson(ids, result.status, result.body);
    }
    return this.graphError(ids, 404, "NotFound", `The stand-in does not serve ${method} ${path}.`);
  }

  private async graphRequest(request: IncomingMessage, method: string, url: URL, body: string, ids: RequestIds, resourceUnits: number): Promise<Reply> {
    try {
      const claims = this.authenticate(request);
      if (this.throttleRemaining > 0) {
        this.throttleRemaining--;
        return this.throttled(ids, claims);
      }
      const wait = this.quotaWaitSeconds(claims, resourceUnits);
      if (wait !== undefined) {
        this.throttleRetryAfter = wait;
        return this.throttled(ids, claims);
      }
      if (this.failRemaining > 0) {
        this.failRemaining--;
        const headers: Record<string, string> = this.failRetryAfter === undefined ? {} : { "Retry-After": String(this.failRetryAfter) };
        const [code, message] = serverErrors[this.failStatus];
        return this.graphError(ids, this.failStatus, code, message, headers);
      }
      const segments = url.pathname.split("/").filter((segment) => segment !== "").slice(1).map((segment) => decodeURIComponent(segment));
      if (segments[0] === "subscriptions") {
        const answer = await this.subscriptions.handle(method, segments.slice(1), body, { appId: claims.appid, roles: Array.isArray(claims.roles) ? claims.roles : [] });
        if (answer.error) throw new GraphRequestError(answer.status, answer.error.code, answer.error.message);
        const reply: Reply = answer.body === undefined ? { status: answer.status, headers: {}, body: "" } : this.json(answer.status, answer.body);
        reply.headers = { ...this.graphHeaders(ids), ...this.usageHeaders(claims, resourceUnits), ...reply.headers };
        return reply;
      }
      if (method !== "GET") throw new GraphRequestError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.");
      const reply = this.graphGet(url, claims, headerValue(request, "prefer"));
      reply.headers = { ...this.graphHeaders(ids), ...this.usageHeaders(claims, resourceUnits), ...reply.headers };
      return reply;
    } catch (error) {
      if (error instanceof GraphRequestError) return this.graphError(ids, error.status, error.code, error.message, error.headers);
      throw error;
    }
  }

  private authenticate(request: IncomingMessage): AccessTokenClaims {
    const challenge = {
      "WWW-Authenticate": `Bearer realm="", authorization_uri="${this.url}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
    };
    const authorization = headerValue(request, "authorization") ?? "";
    const token = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
    if (!token) throw new GraphRequestError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge);
    const verified = this.issuer.verify(token);
    if (!verified.ok) throw new GraphRequestError(401, "InvalidAuthenticationToken", verified.message, challenge);
    return verified.claims;
  }

  private graphGet(url: URL, claims: AccessTokenClaims, prefer: string | undefined): Reply {
    const segments = url.pathname.split("/").filter((segment) => segment !== "").slice(1).map((segment) => decodeURIComponent(segment));
    const params = url.searchParams;
    const [collection, second, third, ...rest] = segments;
    if (collection === undefined) {
      return this.json(200, {
        "@odata.context": `${this.url}/v1.0/$metadata`,
        value: [
          { name: "users", kind: "EntitySet", url: "users" },
          { name: "groups", kind: "EntitySet", url: "groups" },
        ],
      });
    }
    if (collection === "devices") {
      if (second === undefined || !isDeltaSegment(second)) throw new GraphRequestError(404, "NotFound", `The stand-in does not serve GET ${url.pathname}.`);
      if (third !== undefined) throw segmentNotFound(third);
      requireRole(claims, devicesReadRoles);
      return this.delta("devices", params, prefer);
    }
    if (collection === "directory") return this.deletedItems(segments.slice(1), params, claims);
    if (collection !== "users" && collection !== "groups") throw segmentNotFound(collection);
    const resource: ListResource = collection;
    if (second !== undefined && isDeltaSegment(second)) {
      if (third !== undefined) throw segmentNotFound(third);
      requireRole(claims, resource === "users" ? usersReadRoles : groupsReadRoles);
      return this.delta(resource, params, prefer);
    }
    requireRole(claims, resource === "users" ? usersListRoles : groupsReadRoles);
    if (second === undefined) return this.list(resource, params);
    if (third === undefined) return this.getOne(resource, second, params);
    if (resource === "groups" && third === "members" && rest.length === 0) return this.listMembers(second, params);
    throw segmentNotFound(resource === "groups" && third === "members" ? (rest[0] as string) : third);
  }

  private delta(resource: DeltaResource, params: URLSearchParams, prefer: string | undefined): Reply {
    const skipToken = params.get("$skiptoken");
    const deltaToken = params.get("$deltatoken");
    if (skipToken !== null) {
      const state = this.readStateToken(skipToken, resource, "$skiptoken");
      if (state.k !== "skip") throw new GraphRequestError(400, "BadRequest", "The $skiptoken value is not a skip token.");
      const session = this.engine.session(state.sid);
      if (!session) throw syncStateNotFound();
      return this.page(session, state.p, false);
    }
    if (deltaToken !== null && deltaToken !== "") {
      if (deltaToken.toLowerCase() === "latest") {
        const query = this.deltaQuery(resource, params);
        return this.json(200, {
          "@odata.context": contextUrl(this.url, resource, query.select, query.members),
          "@odata.deltaLink": this.deltaLink(resource, this.model.sequence, query),
          value: [],
        });
      }
      const state = this.readStateToken(deltaToken, resource, "$deltatoken");
      if (state.k !== "delta") throw new GraphRequestError(400, "BadRequest", "The $deltatoken value is not a delta token.");
      const query = fromTokenQuery(state.q);
      const preferMinimal = /return\s*=\s*minimal/i.test(prefer ?? "");
      const session = this.engine.startIncremental(resource, query, state.n, preferMinimal);
      const reply = this.page(session, 0, false);
      if (preferMinimal) reply.headers["Preference-Applied"] = "return=minimal";
      return reply;
    }
    const query = this.deltaQuery(resource, params);
    return this.page(this.engine.startFull(resource, query), 0, true);
  }

  /** Validates the query options of an initial delta request as Graph restricts them for users, groups and devices. */
  private deltaQuery(resource: DeltaResource, params: URLSearchParams): DeltaQueryShape {
    for (const unsupported of ["$top", "$orderby", "$search", "$count", "$skip"]) {
      if (params.has(unsupported)) {
        throw new GraphRequestError(400, "Request_UnsupportedQuery", `The query parameter '${unsupported}' is not supported with delta queries on ${resource}.`);
      }
    }
    const expand = params.get("$expand");
    let members = false;
    if (expand !== null) {
      // Older group-delta pages show $expand=members; it asks for the same members@delta as $select=members.
      if (resource !== "groups" || expand.trim().toLowerCase() !== "members") {
        throw new GraphRequestError(400, "Request_UnsupportedQuery", `$expand=${expand} is not supported with delta queries on ${resource}.`);
      }
      members = true;
    }
    const selectRaw = params.getAll("$select").join(",");
    let select: string[] | null = null;
    if (selectRaw.trim() !== "") {
      const names = [...new Set(selectRaw.split(",").map((name) => name.trim()).filter((name) => name !== ""))];
      if (resource === "groups" && names.includes("members")) members = true;
      select = names.filter((name) => name !== "members");
      const known = resource === "users" ? knownUserProperties : resource === "devices" ? knownDeviceProperties : knownGroupProperties;
      for (const name of select) {
        if (!known.has(name)) throw unknownProperty(resource, name);
      }
    } else if (resource === "groups") {
      // Without $select, group delta tracks and returns members@delta by default (delta-query-groups).
      members = true;
    }
    const filterRaw = params.get("$filter");
    const filter = filterRaw === null || filterRaw.trim() === "" ? null : parseIdFilter(filterRaw, resource === "devices" ? Infinity : maxFilterIds);
    return { select, members, filter };
  }

  private page(session: PagingSession, position: number, first: boolean): Reply {
    const end = position + session.pageSize;
    const values = session.render(position, end);
    const resource = session.resource === "list" ? undefined : session.resource;
    const context = resource
      ? first
        ? contextUrl(this.url, resource, session.query.select, session.query.members)
        : contextUrl(this.url, resource, null, false)
      : undefined;
    const parts: string[] = [];
    if (context) parts.push(`"@odata.context":${JSON.stringify(context)}`);
    if (end < session.unitCount) {
      parts.push(`"@odata.nextLink":${JSON.stringify(this.nextLink(session, end))}`);
    } else if (resource) {
      parts.push(`"@odata.deltaLink":${JSON.stringify(this.deltaLink(resource, session.endSeq, session.query))}`);
    }
    parts.push(`"value":[${values.join(",")}]`);
    return { status: 200, headers: { "Content-Type": graphJsonContentType }, body: `{${parts.join(",")}}` };
  }

  private nextLink(session: PagingSession, position: number): string {
    const token = this.writeStateToken({ v: 1, k: "skip", r: session.resource, sid: session.id, p: position, e: this.epoch, q: toTokenQuery(session.query) });
    return `${this.url}${session.listPath ?? `/v1.0/${session.resource}/delta`}?$skiptoken=${token}`;
  }

  private deltaLink(resource: DeltaResource, sequence: number, query: DeltaQueryShape): string {
    const token = this.writeStateToken({ v: 1, k: "delta", r: resource, n: sequence, e: this.epoch, q: toTokenQuery(query) });
    return `${this.url}/v1.0/${resource}/delta?$deltatoken=${token}`;
  }

  /** base64url(JSON) + "." + HMAC: opaque to clients, tamper-evident, and unusable on another stand-in instance. */
  private writeStateToken(state: StateToken): string {
    const payload = Buffer.from(JSON.stringify(state)).toString("base64url");
    return `${payload}.${this.stateSignature(payload)}`;
  }

  private stateSignature(payload: string): string {
    return createHmac("sha256", this.stateKey).update(payload).digest("base64url").slice(0, 22);
  }

  private readStateToken(token: string, resource: DeltaResource, parameter: string): StateToken {
    const dot = token.lastIndexOf(".");
    const payload = dot > 0 ? token.slice(0, dot) : "";
    let state: StateToken | undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      if (isStateToken(parsed)) state = parsed;
    } catch {
      state = undefined;
    }
    if (!state) throw new GraphRequestError(400, "BadRequest", `The ${parameter} value is malformed; use the nextLink or deltaLink exactly as returned.`);
    const expected = Buffer.from(this.stateSignature(payload));
    const actual = Buffer.from(token.slice(dot + 1));
    // A well-formed token this instance did not sign (e.g. from an earlier stand-in run) is an unknown sync state.
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw syncStateNotFound();
    if (state.r !== resource) {
      throw new GraphRequestError(400, "BadRequest", `The ${parameter} value was issued for ${state.r === "list" ? "a list" : `/${state.r}/delta`}, not /${resource}/delta.`);
    }
    if (state.e < this.epoch) {
      const style = this.expiredEpochStyles.get(state.e) ?? "gone";
      if (style === "badRequest") throw syncStateNotFound();
      const location = initialDeltaUrl(this.url, resource, fromTokenQuery(state.q));
      throw new GraphRequestError(410, "resyncRequired", "The delta token is no longer valid, and the app must reset the sync state.", { Location: location });
    }
    return state;
  }

  private list(resource: ListResource, params: URLSearchParams): Reply {
    const skipToken = params.get("$skiptoken");
    if (skipToken !== null) return this.listPage(skipToken);
    rejectListOptions(params);
    const pageSize = listPageSize(params);
    const select = listSelect(resource, params);
    const items: string[] = [];
    if (resource === "users") {
      for (const user of this.model.users.values()) if (!user.deleted) items.push(renderUser(user, select ?? defaultUserSelect));
    } else {
      for (const group of this.model.groups.values()) if (!group.deleted) items.push(renderGroup(group, select ?? defaultGroupSelect));
    }
    const session = this.engine.startList(items, pageSize, `/v1.0/${resource}`);
    return this.listReply(session, 0, contextUrl(this.url, resource, select, false));
  }

  /** GET /directory/deletedItems/microsoft.graph.user or .group (directory-deleteditems-list): user needs User.Read.All, group Group.Read.All; only Microsoft 365 groups are ever there. */
  private deletedItems(segments: string[], params: URLSearchParams, claims: AccessTokenClaims): Reply {
    const [container, cast, extra] = segments;
    if (container !== "deletedItems") throw segmentNotFound(container ?? "directory");
    if (extra !== undefined || (cast !== "microsoft.graph.user" && cast !== "microsoft.graph.group")) throw segmentNotFound(extra ?? cast ?? "deletedItems");
    const skipToken = params.get("$skiptoken");
    if (skipToken !== null) return this.listPage(skipToken);
    const users = cast === "microsoft.graph.user";
    requireRole(claims, users ? usersReadRoles : deletedGroupsReadRoles);
    rejectListOptions(params);
    const resource: ListResource = users ? "users" : "groups";
    const select = listSelect(resource, params);
    const items: string[] = [];
    if (users) for (const user of this.model.users.values()) if (user.deleted) items.push(renderUser(user, select ?? defaultUserSelect));
    if (!users) for (const group of this.model.groups.values()) if (group.deleted) items.push(renderGroup(group, select ?? defaultGroupSelect));
    const session = this.engine.startList(items, listPageSize(params), `/v1.0/directory/deletedItems/${cast}`);
    return this.listReply(session, 0, `${this.url}/v1.0/$metadata#directory/deletedItems/${cast}`);
  }

  private listMembers(groupId: string, params: URLSearchParams): Reply {
    const skipToken = params.get("$skiptoken");
    if (skipToken !== null) return this.listPage(skipToken);
    const group = this.model.groups.get(groupId);
    if (!group || group.deleted) throw resourceNotFound(groupId);
    rejectListOptions(params);
    const pageSize = listPageSize(params);
    const select = params.getAll("$select").join(",").split(",").map((name) => name.trim()).filter((name) => name !== "");
    const items: string[] = [];
    for (const [memberId, type] of this.model.members.get(groupId) ?? []) {
      const item = this.renderMember(memberId, type, select.length > 0 ? select : null);
      if (item) items.push(item);
    }
    const session = this.engine.startList(items, pageSize, `/v1.0/groups/${encodeURIComponent(groupId)}/members`);
    return this.listReply(session, 0, `${this.url}/v1.0/$metadata#directoryObjects`);
  }

  /** A member as GET /groups/{id}/members returns it; soft-deleted members are not listed. */
  private renderMember(id: string, type: MemberType, select: readonly string[] | null): string | undefined {
    const odataType = `"@odata.type":${JSON.stringify(memberODataType[type])}`;
    if (type === "user") {
      const user = this.model.users.get(id);
      if (!user || user.deleted) return undefined;
      return `{${odataType},${renderUser(user, (select ?? defaultUserSelect).filter((name) => knownUserProperties.has(name))).slice(1)}`;
    }
    if (type === "group") {
      const group = this.model.groups.get(id);
      if (!group || group.deleted) return undefined;
      return `{${odataType},${renderGroup(group, (select ?? defaultGroupSelect).filter((name) => knownGroupProperties.has(name))).slice(1)}`;
    }
    return `{${odataType},"id":${JSON.stringify(id)}}`;
  }

  private listPage(skipToken: string): Reply {
    const dot = skipToken.lastIndexOf(".");
    let state: StateToken | undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(skipToken.slice(0, Math.max(0, dot)), "base64url").toString("utf8"));
      if (isStateToken(parsed) && parsed.k === "skip" && parsed.r === "list") state = parsed;
    } catch {
      state = undefined;
    }
    const expected = Buffer.from(this.stateSignature(skipToken.slice(0, Math.max(0, dot))));
    const actual = Buffer.from(skipToken.slice(dot + 1));
    if (!state || state.k !== "skip" || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new GraphRequestError(400, "Request_BadRequest", "The $skiptoken value is malformed; use the nextLink exactly as returned.");
    }
    const session = this.engine.session(state.sid);
    if (!session) throw new GraphRequestError(400, "Request_BadRequest", "The $skiptoken refers to a listing that is no longer available; start the listing again.");
    return this.listReply(session, state.p, undefined);
  }

  private listReply(session: PagingSession, position: number, context: string | undefined): Reply {
    const end = position + session.pageSize;
    const parts: string[] = [];
    if (context) parts.push(`"@odata.context":${JSON.stringify(context)}`);
    if (end < session.unitCount) parts.push(`"@odata.nextLink":${JSON.stringify(this.nextLink(session, end))}`);
    parts.push(`"value":[${session.render(position, end).join(",")}]`);
    return { status: 200, headers: { "Content-Type": graphJsonContentType }, body: `{${parts.join(",")}}` };
  }

  private getOne(resource: ListResource, key: string, params: URLSearchParams): Reply {
    const select = listSelect(resource, params);
    if (resource === "users") {
      let user = this.model.users.get(key);
      if (!user && key.includes("@")) {
        const lower = key.toLowerCase();
        user = [...this.model.users.values()].find((candidate) => candidate.userPrincipalName.toLowerCase() === lower);
      }
      if (!user || user.deleted) throw resourceNotFound(key);
      const body = renderUser(user, select ?? defaultUserSelect);
      return this.rawJson(200, `{"@odata.context":${JSON.stringify(`${contextUrl(this.url, "users", select, false)}/$entity`)},${body.slice(1)}`);
    }
    const group = this.model.groups.get(key);
    if (!group || group.deleted) throw resourceNotFound(key);
    const body = renderGroup(group, select ?? defaultGroupSelect);
    return this.rawJson(200, `{"@odata.context":${JSON.stringify(`${contextUrl(this.url, "groups", select, false)}/$entity`)},${body.slice(1)}`);
  }

  private throttled(ids: RequestIds, claims: AccessTokenClaims): Reply {
    const reply = this.graphError(ids, 429, "TooManyRequests", "Please retry again later.", {
      "Retry-After": String(this.throttleRetryAfter),
      "x-ms-throttle-scope": `Tenant_Application/ReadWrite/${claims.appid}/${this.tenantId}`,
      "x-ms-throttle-information": "ResourceUnitLimitExceeded",
    });
    // The documented 429 body carries code and status inside innerError as well.
    const parsed = JSON.parse(reply.body) as { error: { innerError: Record<string, string> } };
    parsed.error.innerError = { code: "429", ...parsed.error.innerError, message: "Please retry after", status: "429" };
    reply.body = JSON.stringify(parsed);
    return reply;
  }

  private quotaFor(): number {
    const userCount = this.model.users.size;
    return userCount < 50 ? resourceUnitQuota.small : userCount <= 500 ? resourceUnitQuota.medium : resourceUnitQuota.large;
  }

  /** Seconds until the request fits the enforced quota, or undefined when it fits now (throttled requests use no units). */
  private quotaWaitSeconds(claims: AccessTokenClaims, units: number): number | undefined {
    if (this.enforcedQuota === undefined) return undefined;
    const quota = this.enforcedQuota === "documented" ? this.quotaFor() : this.enforcedQuota;
    const now = Date.now();
    const window = (this.resourceUnitWindow.get(claims.appid) ?? []).filter((entry) => now - entry.at < throttleWindowMs);
    let used = window.reduce((sum, entry) => sum + entry.units, 0);
    if (used + units <= quota) return undefined;
    for (const entry of window) {
      used -= entry.units;
      if (used + units <= quota) return Math.max(1, Math.ceil((entry.at + throttleWindowMs - now) / 1000));
    }
    return Math.ceil(throttleWindowMs / 1000);
  }

  /** x-ms-resource-unit always; x-ms-throttle-limit-percentage once the app used over 80 % of its 10-second quota. */
  private usageHeaders(claims: AccessTokenClaims, units: number): Record<string, string> {
    const now = Date.now();
    const window = (this.resourceUnitWindow.get(claims.appid) ?? []).filter((entry) => now - entry.at < throttleWindowMs);
    window.push({ at: now, units });
    this.resourceUnitWindow.set(claims.appid, window);
    const used = window.reduce((sum, entry) => sum + entry.units, 0);
    const quota = this.enforcedQuota === undefined || this.enforcedQuota === "documented" ? this.quotaFor() : this.enforcedQuota;
    const headers: Record<string, string> = { "x-ms-resource-unit": String(units) };
    if (used / quota > throttleReportThreshold) headers["x-ms-throttle-limit-percentage"] = (used / quota).toFixed(1);
    return headers;
  }

  private graphHeaders(ids: RequestIds): Record<string, string> {
    return {
      "request-id": ids.requestId,
      "client-request-id": ids.clientRequestId,
      "x-ms-ags-diagnostic": JSON.stringify({ ServerInfo: { DataCenter: "Stand-in", Slice: "E", Ring: "0", ScaleUnit: "000", RoleInstance: "localhost" } }),
      "OData-Version": "4.0",
      "Cache-Control": "no-cache",
      "Strict-Transport-Security": "max-age=31536000",
    };
  }

  /** Graph's error body: {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}. */
  private graphError(ids: RequestIds, status: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
    const date = new Date().toISOString().slice(0, 19);
    return {
      status,
      headers: { ...this.graphHeaders(ids), "Content-Type": graphJsonContentType, ...headers },
      body: JSON.stringify({ error: { code, message, innerError: { date, "request-id": ids.requestId, "client-request-id": ids.clientRequestId } } }),
    };
  }

  private json(status: number, body: unknown): Reply {
    return this.rawJson(status, JSON.stringify(body));
  }

  private rawJson(status: number, body: string): Reply {
    return { status, headers: { "Content-Type": graphJsonContentType }, body };
  }

  private entraJson(ids: RequestIds, status: number, body: unknown): Reply {
    return {
      status,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store, no-cache",
        Pragma: "no-cache",
        "x-ms-request-id": ids.requestId,
        "client-request-id": ids.clientRequestId,
      },
      body: JSON.stringify(body),
    };
  }
}

const serverErrors: Record<500 | 502 | 503 | 504, [string, string]> = {
  500: ["generalException", "An unspecified error has occurred."],
  502: ["BadGateway", "The server, while acting as a gateway, received an invalid response from the upstream server."],
  503: ["serviceNotAvailable", "The service is temporarily unavailable. Try the request again after a delay."],
  504: ["GatewayTimeout", "The server, while acting as a gateway, did not receive a timely response from the upstream server."],
};

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`GraphStandIn.start: ${name} must be a whole number of at least 1, got ${value}`);
  return value;
}

function listen(server: https.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function readBody(request: IncomingMessage): Promise<string> {
  const limit = 1024 * 1024;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error("request body over 1 MiB"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isGraphPath(path: string): boolean {
  return path === "/v1.0" || path.startsWith("/v1.0/");
}

/** /delta is a shortcut for /microsoft.graph.delta, which the SDKs' generated requests use (delta-query-overview). */
function isDeltaSegment(segment: string): boolean {
  return segment === "delta" || segment === "microsoft.graph.delta" || segment === "microsoft.graph.delta()";
}

/** Resource units (throttling-limits, identity and access): GET users 2, GET group members 3, other requests 1; $select -1, $expand +1, $top under 20 -1; never below 1. */
export function resourceUnitCost(method: string, path: string, params: URLSearchParams): number {
  if (method !== "GET") return 1;
  const segments = path.split("/").filter((segment) => segment !== "").slice(1);
  const [collection, second, third] = segments;
  let cost = 1;
  if (collection === "users" && (second === undefined || isDeltaSegment(second))) cost = 2;
  else if (collection === "groups" && second !== undefined && third === "members" && segments.length === 3) cost = 3;
  if (params.has("$select")) cost -= 1;
  if (params.has("$expand")) cost += 1;
  const top = Number(params.get("$top"));
  if (params.has("$top") && Number.isFinite(top) && top < 20) cost -= 1;
  return Math.max(1, cost);
}

function requireRole(claims: AccessTokenClaims, accepted: readonly string[]): void {
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  // A delegated token (a signed-in admin) carries scopes in scp; Directory.AccessAsUser.All lets the user read what the user may (permissions-reference).
  const scopes = typeof claims.scp === "string" ? claims.scp.split(" ") : [];
  const delegated = scopes.includes("Directory.AccessAsUser.All") || scopes.some((scope) => accepted.includes(scope));
  if (!delegated && !roles.some((role) => accepted.includes(role))) {
    throw new GraphRequestError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  }
}

function segmentNotFound(segment: string): GraphRequestError {
  return new GraphRequestError(400, "BadRequest", `Resource not found for the segment '${segment}'.`);
}

function resourceNotFound(id: string): GraphRequestError {
  return new GraphRequestError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

function unknownProperty(resource: DeltaResource, name: string): GraphRequestError {
  const type = resource === "users" ? "microsoft.graph.user" : resource === "devices" ? "microsoft.graph.device" : "microsoft.graph.group";
  return new GraphRequestError(400, "BadRequest", `Could not find a property named '${name}' on type '${type}'.`);
}

function syncStateNotFound(): GraphRequestError {
  return new GraphRequestError(400, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again.");
}

/** $filter=id eq '…' or id eq '…' — the only filter delta supports on users, groups and devices. */
function parseIdFilter(filter: string, maxIds: number): string[] {
  const ids: string[] = [];
  for (const clause of filter.trim().split(/\s+or\s+/i)) {
    const match = /^\(?\s*id\s+eq\s+'([^']+)'\s*\)?$/i.exec(clause.trim());
    if (!match) {
      throw new GraphRequestError(400, "Request_UnsupportedQuery", `Unsupported $filter '${filter}': delta queries accept only id eq '{id}' clauses joined by 'or'.`);
    }
    ids.push(match[1] as string);
  }
  if (ids.length > maxIds) {
    throw new GraphRequestError(400, "Request_UnsupportedQuery", `A delta $filter can name at most ${maxIds} ids; this one names ${ids.length}.`);
  }
  return [...new Set(ids)];
}

function rejectListOptions(params: URLSearchParams): void {
  for (const unsupported of ["$filter", "$orderby", "$search", "$count", "$expand", "$skip"]) {
    if (params.has(unsupported)) {
      throw new GraphRequestError(400, "Request_UnsupportedQuery", `The Graph stand-in does not implement ${unsupported} on list requests.`);
    }
  }
}

function listPageSize(params: URLSearchParams): number {
  const raw = params.get("$top");
  if (raw === null) return defaultListPageSize;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > maxListPageSize) {
    throw new GraphRequestError(400, "Request_UnsupportedQuery", `Invalid page size specified: '${raw}'. Must be between 1 and ${maxListPageSize} inclusive.`);
  }
  return value;
}

function listSelect(resource: ListResource, params: URLSearchParams): string[] | null {
  const names = params.getAll("$select").join(",").split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) return null;
  const known = resource === "users" ? knownUserProperties : knownGroupProperties;
  for (const name of names) if (!known.has(name)) throw unknownProperty(resource, name);
  return [...new Set(names)];
}

function contextUrl(base: string, resource: DeltaResource, select: readonly string[] | null, members: boolean): string {
  const names = [...(select ?? []), ...(members && select ? ["members"] : [])];
  return `${base}/v1.0/$metadata#${resource}${names.length > 0 ? `(${names.join(",")})` : ""}`;
}

/** The initial query of a round, as the Location of a 410 resyncRequired: the same $select and $filter, no token. */
function initialDeltaUrl(base: string, resource: DeltaResource, query: DeltaQueryShape): string {
  const options: string[] = [];
  const select = [...(query.select ?? []), ...(resource === "groups" && query.members && query.select ? ["members"] : [])];
  if (select.length > 0) options.push(`$select=${select.join(",")}`);
  if (query.filter) options.push(`$filter=${encodeURIComponent(query.filter.map((id) => `id eq '${id}'`).join(" or "))}`);
  return `${base}/v1.0/${resource}/delta${options.length > 0 ? `?${options.join("&")}` : ""}`;
}

function toTokenQuery(query: DeltaQueryShape): TokenQuery {
  return { s: query.select, m: query.members, f: query.filter };
}

function fromTokenQuery(query: TokenQuery): DeltaQueryShape {
  return { select: query.s, members: query.m, filter: query.f };
}

function isStringArrayOrNull(value: unknown): value is string[] | null {
  return value === null || (Array.isArray(value) && value.every((item) => typeof item === "string"));
}

function isStateToken(value: unknown): value is StateToken {
  if (value === null || typeof value !== "object") return false;
  const token = value as Record<string, unknown>;
  const query = token["q"] as Record<string, unknown> | undefined;
  if (token["v"] !== 1 || typeof token["e"] !== "number" || !query || typeof query !== "object") return false;
  if (!isStringArrayOrNull(query["s"]) || typeof query["m"] !== "boolean" || !isStringArrayOrNull(query["f"])) return false;
  if (token["k"] === "skip") {
    return ["users", "groups", "devices", "list"].includes(String(token["r"])) && typeof token["sid"] === "string" && typeof token["p"] === "number";
  }
  return token["k"] === "delta" && ["users", "groups", "devices"].includes(String(token["r"])) && typeof token["n"] === "number";
}
