// Each tenant's change-notification subscriptions and upkeep state, as rows next to its checkpoints and lease in the SyncState table.
import type { TableClient } from "@azure/data-tables";
import type { SubscribedResource } from "../graph/graphSubscriptions";
import { knownSecrets } from "../logging/logger";
import { statusOf } from "../store/tableWriter";

/** creating: claimed by an instance whose POST /subscriptions is in flight; active: Graph holds it. */
export type SubscriptionState = "creating" | "active";

export interface SubscriptionRecord {
  tenantId: string;
  resource: SubscribedResource;
  /** Empty while creating. */
  subscriptionId: string;
  /** The secret Graph echoes on every notification; never logged, never shown. */
  clientState: string;
  state: SubscriptionState;
  expiresAt: string;
  createdAt: string;
  renewedAt: string;
  etag: string;
}

/** What the last upkeep decided for a tenant, for the status endpoint and check. */
export interface NotificationUpkeepState {
  enabled: boolean;
  /** Groups are subscribed only with Group.Read.All; otherwise group changes wait for the next scheduled run. */
  groupsSubscribed: boolean;
  groupsReason: string | undefined;
  lastUpkeepAt: string;
  lastError: string | undefined;
}

/** RowKeys in the tenant's SyncState partition; stream-*, lease and marker-* are taken by others. */
const subscriptionRowKey = (resource: SubscribedResource) => `subscription-${resource}`;
const upkeepRowKey = "notifications-state";
export const subscribedResources: readonly SubscribedResource[] = ["users", "groups"];

type SubscriptionEntity = Omit<SubscriptionRecord, "tenantId" | "resource" | "etag">;

export class SubscriptionRecords {
  constructor(private readonly table: TableClient) {}

  async read(tenantId: string, resource: SubscribedResource): Promise<SubscriptionRecord | undefined> {
    try {
      const entity = await this.table.getEntity<SubscriptionEntity>(tenantId, subscriptionRowKey(resource));
      return recordOf(tenantId, resource, entity, entity.etag);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async readAll(tenantId: string): Promise<SubscriptionRecord[]> {
    const found = await Promise.all(subscribedResources.map((resource) => this.read(tenantId, resource)));
    return found.filter((record): record is SubscriptionRecord => record !== undefined);
  }

  /** Claims the resource for a creation; false when another instance holds a claim or a subscription already. */
  async claim(record: Omit<SubscriptionRecord, "etag">, replacing: SubscriptionRecord | undefined): Promise<SubscriptionRecord | undefined> {
    redactFromLogs(record.clientState);
    const entity = { partitionKey: record.tenantId, rowKey: subscriptionRowKey(record.resource), ...entityOf(record) };
    try {
      const response = replacing ? await this.table.updateEntity(entity, "Replace", { etag: replacing.etag }) : await this.table.createEntity(entity);
      return { ...record, etag: response.etag ?? "" };
    } catch (error) {
      if (statusOf(error) === 409 || statusOf(error) === 412 || statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Rewrites a record this instance holds; a conflict means another instance changed it meanwhile. */
  async update(record: SubscriptionRecord, changes: Partial<Omit<SubscriptionRecord, "tenantId" | "resource" | "etag">>): Promise<SubscriptionRecord | undefined> {
    const next = { ...record, ...changes };
    try {
      const response = await this.table.updateEntity({ partitionKey: record.tenantId, rowKey: subscriptionRowKey(record.resource), ...entityOf(next) }, "Replace", { etag: record.etag });
      return { ...next, etag: response.etag ?? "" };
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async remove(record: SubscriptionRecord): Promise<void> {
    try {
      await this.table.deleteEntity(record.tenantId, subscriptionRowKey(record.resource), { etag: record.etag });
    } catch (error) {
      if (statusOf(error) !== 412 && statusOf(error) !== 404) throw error;
    }
  }

  async readUpkeep(tenantId: string): Promise<NotificationUpkeepState | undefined> {
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>(tenantId, upkeepRowKey);
      const text = (name: string) => (typeof entity[name] === "string" && entity[name] !== "" ? (entity[name] as string) : undefined);
      return { enabled: entity["enabled"] === true, groupsSubscribed: entity["groupsSubscribed"] === true, groupsReason: text("groupsReason"), lastUpkeepAt: text("lastUpkeepAt") ?? "", lastError: text("lastError") };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async writeUpkeep(tenantId: string, state: NotificationUpkeepState): Promise<void> {
    await this.table.upsertEntity({ partitionKey: tenantId, rowKey: upkeepRowKey, enabled: state.enabled, groupsSubscribed: state.groupsSubscribed, groupsReason: state.groupsReason ?? "", lastUpkeepAt: state.lastUpkeepAt, lastError: (state.lastError ?? "").slice(0, 4000) }, "Replace");
  }
}

function entityOf(record: Omit<SubscriptionRecord, "tenantId" | "resource" | "etag">): SubscriptionEntity {
  return { subscriptionId: record.subscriptionId, clientState: record.clientState, state: record.state, expiresAt: record.expiresAt, createdAt: record.createdAt, renewedAt: record.renewedAt };
}

/** Every log line and check message is redacted of known secrets, so a clientState that slips into an error text is still not logged. */
function redactFromLogs(clientState: string): void {
  if (clientState !== "" && !knownSecrets.includes(clientState)) knownSecrets.push(clientState);
}

function recordOf(tenantId: string, resource: SubscribedResource, entity: SubscriptionEntity, etag: string): SubscriptionRecord {
  redactFromLogs(String(entity.clientState ?? ""));
  return {
    tenantId,
    resource,
    subscriptionId: String(entity.subscriptionId ?? ""),
    clientState: String(entity.clientState ?? ""),
    state: entity.state === "active" ? "active" : "creating",
    expiresAt: String(entity.expiresAt ?? ""),
    createdAt: String(entity.createdAt ?? ""),
    renewedAt: String(entity.renewedAt ?? ""),
    etag,
  };
}
