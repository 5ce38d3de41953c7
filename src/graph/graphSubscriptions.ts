// Creates, renews, reauthorizes and deletes Microsoft Graph change-notification subscriptions (subscription-post-subscriptions, subscription-update).
import { ResponseType, type Client } from "@microsoft/microsoft-graph-client";
import { GraphRequestError } from "./graphErrors";

/** Directory resources this product subscribes to. */
export type SubscribedResource = "users" | "groups";

/** Users and groups subscriptions last at most 41,760 minutes, just under 29 days (subscription resource type, maximum length). */
export const maxSubscriptionLifetimeMinutes = 41_760;
/** clientState is at most 128 characters (subscription resource type). */
export const maxClientStateLength = 128;
/** For users and groups, updated covers creation, change and soft deletion; deleted is permanent deletion (change-notifications-overview). */
export const subscribedChangeTypes = "updated,deleted";

export interface GraphSubscription {
  id: string;
  resource: string;
  changeType: string;
  expirationDateTime: string;
  notificationUrl: string;
}

export interface CreateSubscriptionOptions {
  resource: SubscribedResource;
  notificationUrl: string;
  /** Where lifecycle notifications go; the same URL serves both (change-notifications-lifecycle-events). */
  lifecycleNotificationUrl: string;
  expirationDateTime: string;
  clientState: string;
}

/** The subscription is gone on Graph's side (expired, removed or deleted): it must be created again. */
export class SubscriptionNotFoundError extends GraphRequestError {
  override name = "SubscriptionNotFoundError";
}

export class GraphSubscriptions {
  constructor(private readonly client: Client) {}

  async create(options: CreateSubscriptionOptions): Promise<GraphSubscription> {
    const body = {
      changeType: subscribedChangeTypes,
      notificationUrl: options.notificationUrl,
      lifecycleNotificationUrl: options.lifecycleNotificationUrl,
      resource: options.resource,
      expirationDateTime: options.expirationDateTime,
      clientState: options.clientState,
    };
    return subscriptionOf(await this.send("POST", "/subscriptions", body));
  }

  /** Reads a subscription as Graph holds it; SubscriptionNotFoundError when it is gone. */
  async get(subscriptionId: string): Promise<GraphSubscription> {
    return subscriptionOf(await this.send("GET", `/subscriptions/${encodeURIComponent(subscriptionId)}`, undefined));
  }

  /** Extends the expiry; Graph validates the notification URL again. */
  async renew(subscriptionId: string, expirationDateTime: string): Promise<GraphSubscription> {
    return subscriptionOf(await this.send("PATCH", `/subscriptions/${encodeURIComponent(subscriptionId)}`, { expirationDateTime }));
  }

  /** Answers a reauthorizationRequired lifecycle notification (subscription-reauthorize). */
  async reauthorize(subscriptionId: string): Promise<void> {
    await this.send("POST", `/subscriptions/${encodeURIComponent(subscriptionId)}/reauthorize`, undefined);
  }

  /** Deletes a subscription; one that is already gone counts as deleted. */
  async delete(subscriptionId: string): Promise<void> {
    try {
      await this.send("DELETE", `/subscriptions/${encodeURIComponent(subscriptionId)}`, undefined);
    } catch (error) {
      if (!(error instanceof SubscriptionNotFoundError)) throw error;
    }
  }

  private async send(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body: unknown): Promise<unknown> {
    const request = this.client.api(path).responseType(ResponseType.RAW);
    const response = (await (method === "GET" ? request.get() : method === "POST" ? request.post(body ?? {}) : method === "PATCH" ? request.patch(body) : request.delete())) as Response;
    const text = await response.text();
    if (response.ok) return text === "" ? undefined : (JSON.parse(text) as unknown);
    let code: string | undefined;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code;
      message = parsed.error?.message ?? message;
    } catch {
      // Not Graph's JSON error body; the raw text is the message.
    }
    const description = `${method} ${path} answered ${response.status}${code ? ` ${code}` : ""}: ${message}`;
    if (response.status === 404) throw new SubscriptionNotFoundError(description, response.status, code);
    throw new GraphRequestError(description, response.status, code);
  }
}

function subscriptionOf(value: unknown): GraphSubscription {
  const record = (value ?? {}) as Record<string, unknown>;
  if (typeof record["id"] !== "string" || typeof record["expirationDateTime"] !== "string") throw new GraphRequestError("Graph answered a subscription request without id and expirationDateTime", undefined, undefined);
  return {
    id: record["id"],
    resource: String(record["resource"] ?? ""),
    changeType: String(record["changeType"] ?? ""),
    expirationDateTime: record["expirationDateTime"],
    notificationUrl: String(record["notificationUrl"] ?? ""),
  };
}
