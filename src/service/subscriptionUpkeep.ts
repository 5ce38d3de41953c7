// Keeps each tenant's Graph subscriptions as the settings and permissions want them: created, checked, renewed, reauthorized, re-created or removed.
import { randomBytes } from "node:crypto";
import { settingsForTenant } from "../config/settings";
import { decodeTokenClaims, groupSubscriptionPermission, rolesOf, subscriptionRoles } from "../graph/graphPermissions";
import { GraphSubscriptions, maxSubscriptionLifetimeMinutes, SubscriptionNotFoundError, type SubscribedResource } from "../graph/graphSubscriptions";
import type { Logger } from "../logging/logger";
import { recordNotifications } from "./notificationDebounce";
import type { ServiceContext } from "./serviceContext";
import { subscribedResources, type SubscriptionRecord } from "./subscriptionRecords";

/** Requested lifetime: the maximum less a margin for clock skew between this app and Graph. */
const requestedLifetimeMs = (maxSubscriptionLifetimeMinutes - 10) * 60_000;
/** Renewed once less than half the lifetime remains, so two weeks of failed renewals still leave it alive. */
const renewWhenRemainingMs = (maxSubscriptionLifetimeMinutes * 60_000) / 2;
/** A creation claim older than this was left by an instance that died mid-request. */
const staleClaimMs = 2 * 60_000;
/** 96 random bytes are 128 base64url characters, the most clientState holds. */
const clientStateBytes = 96;

export type UpkeepAction = "kept" | "created" | "recreated" | "renewed" | "reauthorized" | "deleted" | "notWanted" | "busy" | "failed";

export interface ResourceUpkeep {
  resource: SubscribedResource;
  action: UpkeepAction;
  subscriptionId?: string;
  expiresAt?: string;
  error?: string;
}

export interface UpkeepResult {
  tenantId: string;
  enabled: boolean;
  resources: ResourceUpkeep[];
  groupsSubscribed: boolean;
  groupsReason: string | undefined;
}

export interface UpkeepOptions {
  logger: Logger;
  /** A lifecycle event to answer for one subscription, or the periodic upkeep. */
  reason?: "upkeep" | "reauthorizationRequired" | "subscriptionRemoved";
  subscriptionId?: string;
}

/** One tenant's upkeep; never throws for Graph failures, which are recorded on the result and the upkeep row. */
export async function maintainSubscriptions(context: ServiceContext, tenantId: string, options: UpkeepOptions): Promise<UpkeepResult> {
  await context.ready();
  const logger = options.logger.child({ tenantId });
  const notifications = context.settings.changeNotifications;
  const existing = await context.subscriptions.readAll(tenantId);
  if (!notifications.enabled && existing.length === 0) {
    return { tenantId, enabled: false, resources: [], groupsSubscribed: false, groupsReason: undefined };
  }
  const tenantSettings = settingsForTenant(context.settings, tenantId);
  if (!tenantSettings) throw new Error(`Tenant ${tenantId} is not configured`);
  const composition = context.composeTenant(tenantSettings, { logger, changeSink: context.changes });
  const graph = new GraphSubscriptions(composition.graphClient);
  const wanted = new Set<SubscribedResource>();
  let groupsReason: string | undefined;
  if (notifications.enabled) {
    const roles = await grantedRoles(composition.credential, tenantSettings.graphEndpoint);
    for (const resource of subscribedResources) {
      if (subscriptionRoles[resource].some((role) => roles.includes(role))) wanted.add(resource);
    }
    if (!wanted.has("groups")) groupsReason = `${groupSubscriptionPermission} is not granted (GroupMember.Read.All does not allow group subscriptions), so group changes wait for the next scheduled run.`;
  } else groupsReason = "Change notifications are off (SYNC_CHANGE_NOTIFICATIONS).";
  const resources: ResourceUpkeep[] = [];
  let lastError: string | undefined;
  for (const resource of subscribedResources) {
    const record = existing.find((candidate) => candidate.resource === resource);
    let result: ResourceUpkeep;
    try {
      result = wanted.has(resource) ? await keep(context, graph, tenantId, resource, record, options) : await remove(context, graph, resource, record);
    } catch (error) {
      result = { resource, action: "failed", error: (error as Error).message };
    }
    if (result.action === "failed") {
      lastError = `${resource}: ${result.error ?? "unknown error"}`;
      logger.error(`Change-notification subscription upkeep for ${resource} failed: ${result.error ?? "unknown error"}`);
    } else if (result.action !== "kept" && result.action !== "notWanted") {
      logger.info(`Change-notification subscription for ${resource}: ${result.action}`, { subscriptionId: result.subscriptionId, expiresAt: result.expiresAt });
    }
    if (result.action === "recreated") {
      // Changes made while no subscription existed sent no notification; one run catches them up.
      await recordNotifications(context, tenantId, 1, logger);
    }
    resources.push(result);
  }
  const groupsSubscribed = resources.some((result) => result.resource === "groups" && result.subscriptionId !== undefined && result.action !== "deleted" && result.action !== "failed");
  await context.subscriptions.writeUpkeep(tenantId, { enabled: notifications.enabled, groupsSubscribed, groupsReason, lastUpkeepAt: new Date(context.clock()).toISOString(), lastError });
  return { tenantId, enabled: notifications.enabled, resources, groupsSubscribed, groupsReason };
}

async function keep(context: ServiceContext, graph: GraphSubscriptions, tenantId: string, resource: SubscribedResource, record: SubscriptionRecord | undefined, options: UpkeepOptions): Promise<ResourceUpkeep> {
  const now = context.clock();
  if (record?.state === "creating" && now - Date.parse(record.createdAt) < staleClaimMs) return { resource, action: "busy" };
  if (record?.state === "active") {
    const named = options.subscriptionId === undefined || options.subscriptionId === record.subscriptionId;
    if (!(options.reason === "subscriptionRemoved" && named)) {
      try {
        let held = await graph.get(record.subscriptionId);
        let action: UpkeepAction = "kept";
        if (options.reason === "reauthorizationRequired" && named) {
          await graph.reauthorize(record.subscriptionId);
          action = "reauthorized";
        }
        if (Date.parse(held.expirationDateTime) - now < renewWhenRemainingMs) {
          held = await graph.renew(record.subscriptionId, new Date(now + requestedLifetimeMs).toISOString());
          action = "renewed";
        }
        if (held.expirationDateTime !== record.expiresAt || action !== "kept") {
          await context.subscriptions.update(record, { expiresAt: held.expirationDateTime, renewedAt: new Date(now).toISOString() });
        }
        return { resource, action, subscriptionId: record.subscriptionId, expiresAt: held.expirationDateTime };
      } catch (error) {
        if (!(error instanceof SubscriptionNotFoundError)) throw error;
      }
    }
  }
  return await create(context, graph, tenantId, resource, record);
}

async function create(context: ServiceContext, graph: GraphSubscriptions, tenantId: string, resource: SubscribedResource, previous: SubscriptionRecord | undefined): Promise<ResourceUpkeep> {
  const notificationUrl = context.settings.changeNotifications.notificationUrl;
  if (!notificationUrl) return { resource, action: "failed", error: "No notification URL: set CHANGE_NOTIFICATION_URL (WEBSITE_HOSTNAME is not set outside Azure)" };
  const now = new Date(context.clock()).toISOString();
  const claim = await context.subscriptions.claim(
    { tenantId, resource, subscriptionId: "", clientState: randomBytes(clientStateBytes).toString("base64url"), state: "creating", expiresAt: "", createdAt: now, renewedAt: now },
    previous,
  );
  if (!claim) return { resource, action: "busy" };
  try {
    const created = await graph.create({ resource, notificationUrl, lifecycleNotificationUrl: notificationUrl, expirationDateTime: new Date(context.clock() + requestedLifetimeMs).toISOString(), clientState: claim.clientState });
    await context.subscriptions.update(claim, { subscriptionId: created.id, state: "active", expiresAt: created.expirationDateTime });
    return { resource, action: previous?.state === "active" ? "recreated" : "created", subscriptionId: created.id, expiresAt: created.expirationDateTime };
  } catch (error) {
    await context.subscriptions.remove(claim);
    throw error;
  }
}

async function remove(context: ServiceContext, graph: GraphSubscriptions, resource: SubscribedResource, record: SubscriptionRecord | undefined): Promise<ResourceUpkeep> {
  if (!record) return { resource, action: "notWanted" };
  if (record.subscriptionId !== "") await graph.delete(record.subscriptionId);
  await context.subscriptions.remove(record);
  return { resource, action: "deleted", subscriptionId: record.subscriptionId || undefined };
}

async function grantedRoles(credential: { getToken(scope: string): Promise<{ token: string } | null> }, graphEndpoint: string): Promise<string[]> {
  const token = await credential.getToken(`${graphEndpoint}/.default`);
  return token ? rolesOf(decodeTokenClaims(token.token)) : [];
}
