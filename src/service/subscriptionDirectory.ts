// Which Graph subscriptions a tenant has, so the webhook can verify a notification's subscription id and clientState cheaply.
import { timingSafeEqual } from "node:crypto";
import type { SubscriptionRecord } from "./subscriptionRecords";

/** Subscription records are cached this long per instance; an unknown id or secret reloads them sooner. */
const recordCacheMs = 60_000;
/** A forged request can force at most one reload of a tenant's records per second. */
const minReloadIntervalMs = 1_000;

/** Known subscriptions per tenant, cached per instance so a storm of notifications costs no table read each. */
export class SubscriptionDirectory {
  private readonly cache = new Map<string, { records: SubscriptionRecord[]; loadedAt: number }>();

  constructor(private readonly load: (tenantId: string) => Promise<SubscriptionRecord[]>, private readonly clock: () => number) {}

  /** The record a notification names, if its clientState matches; reloads once when the id or secret is not (yet) known here. */
  async verify(tenantId: string, subscriptionId: string, clientState: string): Promise<SubscriptionRecord | undefined> {
    const cached = this.cache.get(tenantId);
    const now = this.clock();
    const fresh = cached && now - cached.loadedAt < recordCacheMs ? cached : await this.reload(tenantId);
    const found = match(fresh.records, subscriptionId, clientState);
    if (found || fresh !== cached || now - fresh.loadedAt < minReloadIntervalMs) return found;
    return match((await this.reload(tenantId)).records, subscriptionId, clientState);
  }

  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  private async reload(tenantId: string): Promise<{ records: SubscriptionRecord[]; loadedAt: number }> {
    const entry = { records: await this.load(tenantId), loadedAt: this.clock() };
    this.cache.set(tenantId, entry);
    return entry;
  }
}

function match(records: readonly SubscriptionRecord[], subscriptionId: string, clientState: string): SubscriptionRecord | undefined {
  // A record still "creating" has no id yet; Graph may notify before the creating instance stores it.
  const record = records.find((candidate) => candidate.subscriptionId === subscriptionId) ?? records.find((candidate) => candidate.state === "creating");
  return record && sameSecret(record.clientState, clientState) ? record : undefined;
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(given, "utf8");
  return expected !== "" && a.length === b.length && timingSafeEqual(a, b);
}
