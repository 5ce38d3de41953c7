// What every part of the Functions surface shares: settings, storage, the lease, the queue and the engine factory.
import type { SyncRunSummary } from "../sync/syncRun";
import type { Settings } from "../config/settings";
import type { Composition } from "../compositionRoot";
import type { CredentialStatus } from "../identity/credentialStatus";
import type { Logger } from "../logging/logger";
import { RunLog } from "../store/runLog";
import { emptyStoreMetrics } from "../store/tableWriter";
import type { ChangeSink } from "../directory/changeEvents";
import type { SyncProgress } from "../sync/syncEngine";
import type { ChangeFeed } from "./changeFeed";
import type { RunLeases } from "./runLease";
import type { RunQueue } from "./runQueue";
import type { RunRequestLog } from "./runRequests";
import type { ServiceTables } from "./serviceStorage";
import type { SubscriptionDirectory } from "./subscriptionDirectory";
import type { NotificationTaskQueue } from "./notificationTasks";
import type { SubscriptionRecords } from "./subscriptionRecords";

/** Builds the engine for one tenant; production passes compose(), tests point it at the stand-ins. */
export type ComposeTenant = (settings: Settings, options: { logger: Logger; changeSink: ChangeSink; onProgress?: (progress: SyncProgress) => void }) => Composition;

export interface ServiceTiming {
  leaseTtlMs: number;
  /** How often a working invocation renews its lease; well inside the TTL so one failed renewal does not lose it. */
  renewEveryMs: number;
  /** How long an invocation reads pages before it pauses and queues a continuation. */
  runBudgetMs: number;
}

export interface ServiceContext {
  settings: Settings;
  tables: ServiceTables;
  leases: RunLeases;
  requests: RunRequestLog;
  changes: ChangeFeed;
  queue: RunQueue;
  /** Debounce checks and subscription upkeep handed off by the webhook. */
  notificationTasks: NotificationTaskQueue;
  /** Each tenant's Graph subscriptions, with the secret each notification must carry. */
  subscriptions: SubscriptionRecords;
  /** The same records, cached per instance for the webhook. */
  subscriptionDirectory: SubscriptionDirectory;
  composeTenant: ComposeTenant;
  /** Each tenant's sign-in credential and, in Key Vault modes, its secret's expiry; never throws. */
  credentialStatus: () => Promise<CredentialStatus[]>;
  clock: () => number;
  timing: ServiceTiming;
  /** Creates the tables this surface uses, once per process. */
  ready(): Promise<void>;
}

/** The run log of one tenant, read and written without building the whole engine. */
export function runLogOf(context: ServiceContext, tenantId: string): RunLog<SyncRunSummary> {
  return new RunLog<SyncRunSummary>(context.tables.runs, tenantId, emptyStoreMetrics());
}
