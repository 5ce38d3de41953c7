// One run per tenant at a time: a lease entity next to the tenant's checkpoints, taken, renewed and released with ETags.
import type { TableClient } from "@azure/data-tables";
import type { Logger } from "../logging/logger";
import { statusOf } from "../store/tableWriter";

/** queued: a message waits for a worker; running: a worker holds it; retrying: an attempt failed and the host will redeliver. */
export type LeaseState = "queued" | "running" | "retrying";

export interface RunLeaseRecord {
  tenantId: string;
  runId: string;
  /** The one message allowed to work on the run next; a continuation gets a new ticket, so older copies are stale. */
  ticket: string;
  state: LeaseState;
  acquiredAt: string;
  renewedAt: string;
  expiresAt: string;
  /** Invocations that have claimed the current ticket; bounds retries even when crashes hide them from the dequeue count. */
  ticketAttempts: number;
  etag: string;
}

export type AcquireResult = { acquired: true; lease: RunLeaseRecord; replaced: RunLeaseRecord | undefined } | { acquired: false; holder: RunLeaseRecord };

/** The lease changed under this holder: someone took the tenant over, or released it. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** Renewals come three times per TTL and at least once a minute, so one failed renewal never loses the lease. */
export function leaseRenewalInterval(ttlMs: number): number {
  return Math.min(60_000, Math.max(1, Math.floor(ttlMs / 3)));
}

/** RowKey of the lease in the tenant's SyncState partition; checkpoints use stream-* and cannot collide. */
const leaseRowKey = "lease";
/** Create and replace races resolve within a couple of rounds; more means something else is wrong. */
const maxAcquireRounds = 5;

/** The stored form: the tenant is the PartitionKey and the ETag comes from the service. */
type LeaseEntity = Omit<RunLeaseRecord, "tenantId" | "etag">;

export class RunLeases {
  constructor(
    private readonly table: TableClient,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  isExpired(lease: RunLeaseRecord): boolean {
    return Date.parse(lease.expiresAt) <= this.clock();
  }

  async read(tenantId: string): Promise<RunLeaseRecord | undefined> {
    try {
      const entity = await this.table.getEntity<LeaseEntity>(tenantId, leaseRowKey);
      return { tenantId, runId: entity.runId, ticket: entity.ticket, state: entity.state, acquiredAt: entity.acquiredAt, renewedAt: entity.renewedAt, expiresAt: entity.expiresAt, ticketAttempts: Number(entity.ticketAttempts ?? 0), etag: entity.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Takes the tenant for a new run; an unexpired lease is left alone and returned, an expired one is replaced. */
  async acquire(tenantId: string, runId: string, ticket: string): Promise<AcquireResult> {
    for (let round = 0; round < maxAcquireRounds; round++) {
      const entity = this.entity(runId, ticket, "queued", 0);
      try {
        const response = await this.table.createEntity({ partitionKey: tenantId, rowKey: leaseRowKey, ...entity });
        return { acquired: true, lease: { tenantId, ...entity, etag: response.etag ?? "" }, replaced: undefined };
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      const holder = await this.read(tenantId);
      if (!holder) continue;
      if (!this.isExpired(holder)) return { acquired: false, holder };
      try {
        const response = await this.table.updateEntity({ partitionKey: tenantId, rowKey: leaseRowKey, ...entity }, "Replace", { etag: holder.etag });
        return { acquired: true, lease: { tenantId, ...entity, etag: response.etag ?? "" }, replaced: holder };
      } catch (error) {
        // 412: another request replaced it first; 404: its holder released it. Either way, look again.
        if (statusOf(error) !== 412 && statusOf(error) !== 404) throw error;
      }
    }
    throw new Error(`Could not take or read the lease of tenant ${tenantId} after ${maxAcquireRounds} rounds of conflicting writes`);
  }

  /** Rewrites the lease with a fresh expiry, only if it is still the version this holder last saw. */
  async update(lease: RunLeaseRecord, changes: Partial<Pick<RunLeaseRecord, "state" | "ticket" | "ticketAttempts">> = {}): Promise<RunLeaseRecord> {
    const next = { ...lease, ...changes };
    const entity = { ...this.entity(next.runId, next.ticket, next.state, next.ticketAttempts), acquiredAt: lease.acquiredAt };
    try {
      const response = await this.table.updateEntity({ partitionKey: lease.tenantId, rowKey: leaseRowKey, ...entity }, "Replace", { etag: lease.etag });
      return { tenantId: lease.tenantId, ...entity, etag: response.etag ?? "" };
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 404) throw new LeaseLostError(`Run ${lease.runId} lost the lease of tenant ${lease.tenantId}: it was taken over or released`);
      throw error;
    }
  }

  /** Gives the tenant up; false when the lease had already changed hands (nothing to release then). */
  async release(lease: RunLeaseRecord): Promise<boolean> {
    try {
      await this.table.deleteEntity(lease.tenantId, leaseRowKey, { etag: lease.etag });
      return true;
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 404) return false;
      throw error;
    }
  }

  private entity(runId: string, ticket: string, state: LeaseState, ticketAttempts: number): LeaseEntity {
    const now = this.clock();
    return { runId, ticket, state, acquiredAt: new Date(now).toISOString(), renewedAt: new Date(now).toISOString(), expiresAt: new Date(now + this.ttlMs).toISOString(), ticketAttempts };
  }
}

/** Keeps a worker's lease alive: on a timer (long steps such as the closure have no pages) and at each page's heartbeat. */
export class LeaseKeeper {
  private current: RunLeaseRecord;
  private lost: LeaseLostError | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastRenewedAt: number;
  private stopped = false;

  constructor(
    lease: RunLeaseRecord,
    private readonly leases: RunLeases,
    private readonly renewEveryMs: number,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.current = lease;
    this.lastRenewedAt = clock();
  }

  get lease(): RunLeaseRecord {
    return this.current;
  }

  get lostError(): LeaseLostError | undefined {
    return this.lost;
  }

  start(): void {
    this.timer = setInterval(() => void this.renew().catch(() => undefined), this.renewEveryMs);
    // A pending renewal must not keep a finished invocation's process alive.
    this.timer.unref();
  }

  /** The engine's heartbeat: renews when due and stops the run once the lease is gone or the invocation has ended. */
  readonly heartbeat = async (): Promise<void> => {
    if (this.stopped) throw new Error("The invocation that ran this stream has ended");
    if (this.clock() - this.lastRenewedAt >= this.renewEveryMs) await this.renew();
    if (this.lost) throw this.lost;
  };

  /** Waits for any renewal in flight, then stops renewing; the caller then updates or releases `lease`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing.catch(() => undefined);
  }

  private renew(): Promise<void> {
    // Renewals run one after another, so each uses the ETag the previous one returned.
    this.renewing = this.renewing.then(async () => {
      if (this.lost) return;
      try {
        this.current = await this.leases.update(this.current);
        this.lastRenewedAt = this.clock();
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.lost = error;
          this.logger.warn(error.message);
        } else {
          // Still held until it expires; the next renewal tries again.
          this.logger.warn(`Could not renew the lease: ${(error as Error).message}`);
        }
      }
    });
    return this.renewing;
  }
}
