// The stand-in's /v1.0/subscriptions: create, read, renew, reauthorize and delete, the validation handshake, expiry, change and lifecycle notifications.
import { randomBytes, randomUUID } from "node:crypto";
import { isMembershipChange, type ChangeRecord, type DirectoryModel } from "./directoryModel";

/** Users and groups subscriptions last at most 41,760 minutes (subscription resource type). */
export const maxSubscriptionMinutes = 41_760;
/** clientState holds at most 128 characters (subscription resource type). */
const maxClientStateLength = 128;
/** The notification URL must answer the validation request within 10 seconds (change-notifications-delivery-webhooks). */
const validationTimeoutMs = 10_000;

export type SubscriptionResource = "users" | "groups";
export type LifecycleEvent = "reauthorizationRequired" | "subscriptionRemoved" | "missed";

export interface StandInSubscription {
  id: string;
  resource: SubscriptionResource;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: string;
  applicationId: string;
  creatorId: string;
}

export interface NotificationDelivery {
  kind: "validation" | "change" | "lifecycle";
  url: string;
  /** HTTP status, or undefined when the endpoint could not be reached. */
  status: number | undefined;
  notifications: number;
  at: number;
  error?: string;
}

export interface SubscriptionOptions {
  /** Notifications per POST; Graph batches them in `value` (default 100, a guess: the page does not give a number). */
  maxNotificationsPerPost: number;
  /** Waits before redelivering a notification the endpoint did not take; Graph retries with exponential backoff for up to 4 hours. */
  deliveryRetryDelaysMs: readonly number[];
  /** POSTs in flight at once; a guess (Graph names no number), kept small so a storm does not drown the receiver in TLS handshakes. */
  maxConcurrentDeliveries: number;
}

export interface SubscriptionCaller {
  appId: string;
  roles: readonly string[];
}

export interface SubscriptionReply {
  status: number;
  body?: unknown;
  error?: { code: string; message: string };
}

/** Roles that allow a subscription (subscription-post-subscriptions): groups need Group.Read.All; GroupMember.Read.All is not listed. */
const subscribeRoles: Record<SubscriptionResource, readonly string[]> = {
  users: ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  groups: ["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
};

export class SubscriptionService {
  readonly deliveries: NotificationDelivery[] = [];
  private readonly subscriptions = new Map<string, StandInSubscription>();
  private readonly pending = new Map<string, Array<Record<string, unknown>>>();
  private flushScheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private stopped = false;
  private deliveriesInFlight = 0;
  private readonly deliverySlots: Array<() => void> = [];

  constructor(
    private readonly baseUrl: string,
    private readonly tenantId: string,
    model: DirectoryModel,
    private readonly options: SubscriptionOptions,
  ) {
    this.unsubscribe = model.onChange((change) => this.onChange(change));
  }

  /** Live subscriptions; expired ones are gone, as Graph deletes them. */
  list(): StandInSubscription[] {
    this.sweep();
    return [...this.subscriptions.values()];
  }

  /** Removes every subscription without notice, as when Graph loses them (tests of re-creation). */
  removeAll(): void {
    this.subscriptions.clear();
    this.pending.clear();
  }

  /** Moves a subscription's expiry (tests of renewal and expiry). */
  setExpiration(id: string, expirationDateTime: Date): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) throw new Error(`No subscription ${id}`);
    subscription.expirationDateTime = expirationDateTime.toISOString();
  }

  /** Sends a lifecycle notification to the subscription's lifecycleNotificationUrl; subscriptionRemoved also removes it. False when it has none. */
  async sendLifecycle(id: string, event: LifecycleEvent): Promise<boolean> {
    const subscription = this.subscriptions.get(id);
    if (!subscription) throw new Error(`No subscription ${id}`);
    if (event === "subscriptionRemoved") this.subscriptions.delete(id);
    if (!subscription.lifecycleNotificationUrl) return false;
    const item = { subscriptionId: id, subscriptionExpirationDateTime: subscription.expirationDateTime, tenantId: this.tenantId, clientState: subscription.clientState, lifecycleEvent: event };
    await this.deliver("lifecycle", subscription.lifecycleNotificationUrl, [item], 0);
    return true;
  }

  /** Waits until every notification queued so far was delivered or given up on. */
  async settle(): Promise<void> {
    while (this.flushScheduled || this.inFlight.size > 0) {
      await Promise.all([...this.inFlight]);
      if (this.flushScheduled) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** Serves /v1.0/subscriptions[/{id}[/reauthorize]]; segments follow "subscriptions". */
  async handle(method: string, segments: readonly string[], body: string, caller: SubscriptionCaller): Promise<SubscriptionReply> {
    this.sweep();
    const [id, action, ...rest] = segments;
    if (rest.length > 0) return notFound(`Resource not found for the segment '${rest[0]}'.`);
    if (id === undefined) {
      if (method === "POST") return await this.create(parseJson(body), caller);
      if (method === "GET") return { status: 200, body: { "@odata.context": `${this.baseUrl}/v1.0/$metadata#subscriptions`, value: [...this.subscriptions.values()].filter((s) => s.applicationId === caller.appId).map((s) => this.render(s)) } };
      return methodNotAllowed();
    }
    const subscription = this.subscriptions.get(id);
    if (action !== undefined) {
      if (action !== "reauthorize" && action !== "microsoft.graph.reauthorize") return notFound(`Resource not found for the segment '${action}'.`);
      if (method !== "POST") return methodNotAllowed();
      if (!subscription) return missing(id);
      return { status: 204 };
    }
    if (!subscription) return missing(id);
    if (method === "GET") return { status: 200, body: this.render(subscription, true) };
    if (method === "DELETE") {
      this.subscriptions.delete(id);
      return { status: 204 };
    }
    if (method === "PATCH") {
      const patch = parseJson(body);
      if (!patch) return badRequest("InvalidRequest", "The request body is not valid JSON.");
      const expiry = this.checkExpiry(patch["expirationDateTime"]);
      if (typeof expiry !== "string") return expiry;
      const failed = await this.validate(subscription.notificationUrl, subscription.lifecycleNotificationUrl);
      if (failed) return failed;
      subscription.expirationDateTime = expiry;
      return { status: 200, body: this.render(subscription, true) };
    }
    return methodNotAllowed();
  }

  private async create(body: Record<string, unknown> | undefined, caller: SubscriptionCaller): Promise<SubscriptionReply> {
    if (!body) return badRequest("InvalidRequest", "The request body is not valid JSON.");
    const resourceText = String(body["resource"] ?? "").replace(/^\//, "").toLowerCase();
    if (resourceText !== "users" && resourceText !== "groups") return badRequest("InvalidRequest", `The stand-in serves subscriptions to users and groups only, not '${String(body["resource"] ?? "")}'.`);
    const resource: SubscriptionResource = resourceText;
    if (!caller.roles.some((role) => subscribeRoles[resource].includes(role))) {
      return { status: 403, error: { code: "ExtensionError", message: "Operation: Create; Exception: [Status Code: Forbidden; Reason: Insufficient privileges to complete the operation.]" } };
    }
    const changeType = String(body["changeType"] ?? "");
    const kinds = changeType.split(",").map((kind) => kind.trim());
    if (changeType === "" || kinds.some((kind) => !["created", "updated", "deleted"].includes(kind))) return badRequest("InvalidRequest", `Invalid changeType '${changeType}'; use created, updated, deleted, comma-separated.`);
    const notificationUrl = body["notificationUrl"];
    if (typeof notificationUrl !== "string" || !notificationUrl.startsWith("https://")) return badRequest("InvalidRequest", "The notificationUrl must be an https URL.");
    const lifecycle = body["lifecycleNotificationUrl"];
    if (lifecycle !== undefined && lifecycle !== null && (typeof lifecycle !== "string" || !lifecycle.startsWith("https://"))) return badRequest("InvalidRequest", "The lifecycleNotificationUrl must be an https URL.");
    const clientState = body["clientState"];
    if (clientState !== undefined && clientState !== null && (typeof clientState !== "string" || clientState.length > maxClientStateLength)) return badRequest("InvalidRequest", `clientState must be a string of at most ${maxClientStateLength} characters.`);
    const expiry = this.checkExpiry(body["expirationDateTime"]);
    if (typeof expiry !== "string") return expiry;
    const lifecycleUrl = typeof lifecycle === "string" ? lifecycle : null;
    const failed = await this.validate(notificationUrl, lifecycleUrl);
    if (failed) return failed;
    const subscription: StandInSubscription = { id: randomUUID(), resource, changeType, notificationUrl, lifecycleNotificationUrl: lifecycleUrl, clientState: typeof clientState === "string" ? clientState : null, expirationDateTime: expiry, applicationId: caller.appId, creatorId: randomUUID() };
    this.subscriptions.set(subscription.id, subscription);
    return { status: 201, body: this.render(subscription, true) };
  }

  private checkExpiry(value: unknown): string | SubscriptionReply {
    const at = typeof value === "string" ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) return badRequest("InvalidRequest", "expirationDateTime is required and must be a date and time.");
    const now = Date.now();
    if (at <= now) return badRequest("InvalidRequest", "Subscription expiration must be in the future.");
    if (at > now + maxSubscriptionMinutes * 60_000) return badRequest("InvalidRequest", `Subscription expiration can only be ${maxSubscriptionMinutes} minutes in the future.`);
    return new Date(at).toISOString();
  }

  /** The handshake: POST url?validationToken=…, answered 200 with the token as text/plain within 10 seconds. */
  private async validate(notificationUrl: string, lifecycleUrl: string | null): Promise<SubscriptionReply | undefined> {
    for (const url of new Set([notificationUrl, ...(lifecycleUrl ? [lifecycleUrl] : [])])) {
      const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()} ${randomBytes(8).toString("hex")}`;
      const target = `${url}${url.includes("?") ? "&" : "?"}validationToken=${encodeURIComponent(token)}`;
      let ok = false;
      let status: number | undefined;
      let error: string | undefined;
      try {
        const response = await fetch(target, { method: "POST", headers: { "content-type": "text/plain; charset=utf-8" }, body: "", signal: AbortSignal.timeout(validationTimeoutMs) });
        status = response.status;
        const text = await response.text();
        ok = response.status === 200 && (response.headers.get("content-type") ?? "").toLowerCase().startsWith("text/plain") && text === token;
      } catch (caught) {
        error = (caught as Error).message;
      }
      this.deliveries.push({ kind: "validation", url, status, notifications: 0, at: Date.now(), ...(error ? { error } : {}) });
      if (!ok) return badRequest("ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.");
    }
    return undefined;
  }

  private onChange(change: ChangeRecord): void {
    if (this.stopped) return;
    const target = notificationTarget(change);
    if (!target) return;
    this.sweep();
    for (const subscription of this.subscriptions.values()) {
      if (subscription.resource !== target.resource || !subscription.changeType.split(",").includes(target.changeType)) continue;
      const path = `${target.resource === "users" ? "Users" : "Groups"}/${target.id}`;
      const item = {
        subscriptionId: subscription.id,
        subscriptionExpirationDateTime: subscription.expirationDateTime,
        changeType: target.changeType,
        resource: path,
        resourceData: { "@odata.type": target.resource === "users" ? "#Microsoft.Graph.User" : "#Microsoft.Graph.Group", "@odata.id": path, id: target.id, organizationId: this.tenantId },
        clientState: subscription.clientState,
        tenantId: this.tenantId,
      };
      const queue = this.pending.get(subscription.id) ?? [];
      queue.push(item);
      this.pending.set(subscription.id, queue);
    }
    if (!this.flushScheduled && this.pending.size > 0) {
      this.flushScheduled = true;
      // Changes made in one turn of the event loop go out together, as Graph batches notifications.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [id, items] of this.pending) {
      const subscription = this.subscriptions.get(id);
      if (!subscription) continue;
      for (let start = 0; start < items.length; start += this.options.maxNotificationsPerPost) {
        this.track(this.deliver("change", subscription.notificationUrl, items.slice(start, start + this.options.maxNotificationsPerPost), 0));
      }
    }
    this.pending.clear();
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async deliver(kind: "change" | "lifecycle", url: string, items: Array<Record<string, unknown>>, attempt: number): Promise<void> {
    if (this.stopped) return;
    let status: number | undefined;
    let error: string | undefined;
    if (this.deliveriesInFlight >= this.options.maxConcurrentDeliveries) await new Promise<void>((resolve) => this.deliverySlots.push(resolve));
    this.deliveriesInFlight++;
    try {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify({ value: items }), signal: AbortSignal.timeout(validationTimeoutMs) });
      status = response.status;
      await response.arrayBuffer();
    } catch (caught) {
      error = (caught as Error).message;
    } finally {
      this.deliveriesInFlight--;
      this.deliverySlots.shift()?.();
    }
    this.deliveries.push({ kind, url, status, notifications: items.length, at: Date.now(), ...(error ? { error } : {}) });
    // A 2xx is delivered; anything else (even 4xx) is retried (change-notifications-delivery-webhooks).
    if (status !== undefined && status >= 200 && status < 300) return;
    const delay = this.options.deliveryRetryDelaysMs[attempt];
    if (delay === undefined || this.stopped) return;
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    await this.deliver(kind, url, items, attempt + 1);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, subscription] of this.subscriptions) if (Date.parse(subscription.expirationDateTime) <= now) this.subscriptions.delete(id);
  }

  private render(subscription: StandInSubscription, entity = false): Record<string, unknown> {
    return {
      ...(entity ? { "@odata.context": `${this.baseUrl}/v1.0/$metadata#subscriptions/$entity` } : {}),
      id: subscription.id,
      resource: subscription.resource,
      applicationId: subscription.applicationId,
      changeType: subscription.changeType,
      clientState: subscription.clientState,
      notificationUrl: subscription.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: subscription.lifecycleNotificationUrl,
      expirationDateTime: subscription.expirationDateTime,
      creatorId: subscription.creatorId,
      includeResourceData: null,
      latestSupportedTlsVersion: "v1_2",
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    };
  }
}

/** For users and groups, updated covers creation, change and soft deletion (and restore); deleted is permanent deletion; membership changes update the group. */
function notificationTarget(change: ChangeRecord): { resource: SubscriptionResource; id: string; changeType: "updated" | "deleted" } | undefined {
  if (isMembershipChange(change)) return { resource: "groups", id: change.groupId, changeType: "updated" };
  if (change.kind === "device") return undefined;
  return { resource: change.kind === "user" ? "users" : "groups", id: change.id, changeType: change.op === "hardDeleted" ? "deleted" : "updated" };
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body === "" ? "{}" : body);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function badRequest(code: string, message: string): SubscriptionReply {
  return { status: 400, error: { code, message } };
}

function notFound(message: string): SubscriptionReply {
  return { status: 400, error: { code: "BadRequest", message } };
}

function missing(id: string): SubscriptionReply {
  return { status: 404, error: { code: "ResourceNotFound", message: `The object '${id}' was not found.` } };
}

function methodNotAllowed(): SubscriptionReply {
  return { status: 405, error: { code: "Request_BadRequest", message: "Specified HTTP method is not allowed for the request target." } };
}
