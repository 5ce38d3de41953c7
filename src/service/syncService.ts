// The host-independent surface the Functions call: one method per function, built once per process from validated settings.
import { settingsForTenant, type Settings } from "../config/settings";
import type { Logger } from "../logging/logger";
import { logEvent } from "../logging/operationalEvents";
import { ChangeFeed, type ChangeObjectType, type ChangePage } from "./changeFeed";
import { purgeExpired, type PurgeResult } from "./retention";
import { leaseRenewalInterval, RunLeases } from "./runLease";
import { StorageRunQueue, syncRequestQueueName, type RunQueue } from "./runQueue";
import { requestRun, type RunRequestInput, type RunRequestOutcome } from "./runRequester";
import { RunRequestLog } from "./runRequests";
import { processPoisonMessage, processRunMessage, type WorkResult } from "./runWorker";
import { runLogOf, type ComposeTenant, type ServiceContext, type ServiceTiming } from "./serviceContext";
import { openQueue, openServiceTables, type ServiceTables } from "./serviceStorage";
import { suggestServiceAccounts, type SuggestionReport } from "../policy/serviceAccounts";
import { listRuns, readRun, readStatus, type RunListPage, type RunView, type SyncStatus } from "./syncStatus";
import { readScopeView, type ScopeView } from "./scopeView";
import { describeHeldDeletions, type HeldDeletionList } from "./heldDeletions";
import { readCredentialStatus, type CredentialStatus } from "../identity/credentialStatus";
import { receiveWebhook, SubscriptionDirectory, type WebhookAnswer, type WebhookInput } from "./changeNotifications";
import { checkPending, type CheckResult } from "./notificationDebounce";
import { notificationTaskQueueName, parseNotificationTask, StorageNotificationTaskQueue, type NotificationTaskQueue } from "./notificationTasks";
import { SubscriptionRecords } from "./subscriptionRecords";
import { maintainSubscriptions, type UpkeepResult } from "./subscriptionUpkeep";

export interface SyncServiceOptions {
  composeTenant: ComposeTenant;
  /** Replaces the queue the settings describe (tests). */
  queue?: RunQueue;
  /** Replaces the notification-task queue the settings describe (tests). */
  notificationTasks?: NotificationTaskQueue;
  /** Replaces Date.now (tests). */
  clock?: () => number;
  /** Overrides timings derived from settings (tests use a tiny budget). */
  timing?: Partial<ServiceTiming>;
  /** Reads each tenant's credential state (Key Vault expiry); replaced in tests. */
  credentialStatus?: (settings: Settings) => Promise<CredentialStatus[]>;
}

export interface ChangeQuery {
  tenantId: string;
  since?: string;
  sinceRunId?: string;
  until?: string;
  objectType?: ChangeObjectType;
  runId?: string;
  cursor?: string;
  limit: number;
}

/** The run a `sinceRunId` names is not in this tenant's log. */
export class UnknownRunError extends Error {
  override name = "UnknownRunError";
}

export class SyncService {
  private readonly context: ServiceContext;

  constructor(settings: Settings, options: SyncServiceOptions, tables: ServiceTables = openServiceTables(settings)) {
    const clock = options.clock ?? Date.now;
    const leaseTtlMs = options.timing?.leaseTtlMs ?? settings.leaseTtlSeconds * 1000;
    const timing: ServiceTiming = {
      leaseTtlMs,
      renewEveryMs: options.timing?.renewEveryMs ?? leaseRenewalInterval(leaseTtlMs),
      runBudgetMs: options.timing?.runBudgetMs ?? settings.runBudgetSeconds * 1000,
    };
    let ready: Promise<void> | undefined;
    const subscriptions = new SubscriptionRecords(tables.syncState);
    this.context = {
      settings,
      tables,
      leases: new RunLeases(tables.syncState, leaseTtlMs, clock),
      requests: new RunRequestLog(tables.runRequests),
      changes: new ChangeFeed(tables.changes),
      queue: options.queue ?? new StorageRunQueue(openQueue(settings, syncRequestQueueName)),
      notificationTasks: options.notificationTasks ?? new StorageNotificationTaskQueue(openQueue(settings, notificationTaskQueueName)),
      subscriptions,
      subscriptionDirectory: new SubscriptionDirectory((tenantId) => subscriptions.readAll(tenantId), clock),
      composeTenant: options.composeTenant,
      credentialStatus: () => (options.credentialStatus ?? readCredentialStatus)(settings),
      clock,
      timing,
      ready: () =>
        (ready ??= Promise.all(Object.values(tables).map((table) => table.createTable())).then(
          () => undefined,
          (error: unknown) => {
            ready = undefined;
            throw error;
          },
        )),
    };
  }

  /** The tenant ids this deployment syncs, lower case. */
  get tenantIds(): string[] {
    return this.context.settings.tenants.map((tenant) => tenant.tenantId);
  }

  requestRun(input: RunRequestInput, logger: Logger): Promise<RunRequestOutcome> {
    return requestRun(this.context, input, logger);
  }

  /** The timer: one incremental run per tenant, then the retention purge; every tenant is tried even if one fails. */
  async runSchedule(logger: Logger): Promise<{ requested: RunRequestOutcome[]; purged: PurgeResult[]; failures: string[] }> {
    const requested: RunRequestOutcome[] = [];
    const failures: string[] = [];
    for (const tenantId of this.tenantIds) {
      try {
        requested.push(await requestRun(this.context, { tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "schedule", requestedBy: undefined }, logger));
      } catch (error) {
        failures.push(`tenant ${tenantId}: ${(error as Error).message}`);
        logger.error(`Could not request the scheduled run: ${(error as Error).message}`, { tenantId });
      }
    }
    // Once a day is enough to mail the admin well before SECRET_EXPIRY_WARNING_DAYS run out; the status endpoint says it on every call.
    for (const { tenantId, secret } of await this.context.credentialStatus()) {
      if (!secret || secret.state === "valid" || secret.state === "noExpiry") continue;
      logEvent(logger, "warn", "secretExpiring", secret.message, { tenantId, runId: null, secretName: secret.secretName, vaultUrl: secret.vaultUrl, state: secret.state, daysLeft: secret.daysLeft, expiresOn: secret.expiresOn });
    }
    let purged: PurgeResult[] = [];
    try {
      purged = await purgeExpired(this.context, this.tenantIds);
      for (const result of purged) logger.info(`Purged ${result.runs} runs, ${result.requests} run requests and ${result.changes} change events from before ${result.cutoff}`, { tenantId: result.tenantId });
    } catch (error) {
      failures.push(`retention purge: ${(error as Error).message}`);
      logger.error(`The retention purge failed: ${(error as Error).message}`);
    }
    return { requested, purged, failures };
  }

  /** The Graph webhook: the validation handshake or a batch of notifications; never syncs inline. */
  receiveChangeNotifications(input: WebhookInput, logger: Logger): Promise<WebhookAnswer> {
    return receiveWebhook(this.context, input, logger);
  }

  /** One message of the sync-notifications queue: a debounce check or a subscription upkeep; a malformed one is dropped. */
  async processNotificationTask(message: unknown, options: { logger: Logger }): Promise<CheckResult | UpkeepResult | undefined> {
    await this.context.ready();
    const parsed = parseNotificationTask(message);
    if ("problem" in parsed) {
      options.logger.error(`Dropped a message on ${notificationTaskQueueName} that is not a notification task (${parsed.problem})`);
      return undefined;
    }
    const task = parsed.message;
    if (!this.tenantIds.includes(task.tenantId)) {
      options.logger.warn(`Dropped a notification task for tenant ${task.tenantId}, which is no longer configured`);
      return undefined;
    }
    if (task.task === "debounce") return await checkPending(this.context, task.tenantId, options.logger);
    const result = await maintainSubscriptions(this.context, task.tenantId, { logger: options.logger, reason: task.reason, subscriptionId: task.subscriptionId });
    this.context.subscriptionDirectory.forget(task.tenantId);
    // Thrown so the host retries a lifecycle event whose answer failed (Graph stops notifying until it is answered).
    const failed = result.resources.find((resource) => resource.action === "failed");
    if (failed && task.reason !== "upkeep") throw new Error(`Answering ${task.reason} for ${failed.resource} failed: ${failed.error ?? "unknown error"}`);
    return result;
  }

  /** Subscription upkeep for every tenant (the timer): creates, renews, re-creates or removes as the settings say. */
  async maintainSubscriptions(logger: Logger): Promise<{ results: UpkeepResult[]; failures: string[] }> {
    const results: UpkeepResult[] = [];
    const failures: string[] = [];
    for (const tenantId of this.tenantIds) {
      try {
        const result = await maintainSubscriptions(this.context, tenantId, { logger, reason: "upkeep" });
        this.context.subscriptionDirectory.forget(tenantId);
        results.push(result);
        for (const resource of result.resources) if (resource.action === "failed") failures.push(`tenant ${tenantId} ${resource.resource}: ${resource.error ?? "unknown error"}`);
      } catch (error) {
        failures.push(`tenant ${tenantId}: ${(error as Error).message}`);
        logger.error(`Subscription upkeep failed: ${(error as Error).message}`, { tenantId });
      }
    }
    return { results, failures };
  }

  processRunMessage(message: unknown, options: { dequeueCount: number; logger: Logger }): Promise<WorkResult> {
    return processRunMessage(this.context, message, options);
  }

  processPoisonMessage(message: unknown, options: { logger: Logger }): Promise<WorkResult> {
    return processPoisonMessage(this.context, message, options);
  }

  readRun(runId: string, tenantId?: string): Promise<RunView | undefined> {
    return readRun(this.context, runId, tenantId ? [tenantId] : this.tenantIds);
  }

  /** Synced accounts that look like service accounts, as suggested exclusion patterns; reads the tables only. */
  async suggestExclusions(tenantId: string, logger: Logger): Promise<SuggestionReport & { tenantId: string }> {
    const settings = settingsForTenant(this.context.settings, tenantId)!;
    const composition = this.context.composeTenant(settings, { logger, changeSink: this.context.changes });
    return { tenantId, ...(await suggestServiceAccounts(composition.store)) };
  }

  /** The import log newest first, a page at a time. */
  listRuns(tenantId: string, options: { limit: number; cursor?: string }): Promise<RunListPage> {
    return listRuns(this.context, tenantId, options);
  }

  /** The scope and filters in force, with scope groups resolved to names from the tables; reads the tables only. */
  async readScope(tenantId: string, logger: Logger): Promise<ScopeView> {
    const settings = settingsForTenant(this.context.settings, tenantId)!;
    const composition = this.context.composeTenant(settings, { logger, changeSink: this.context.changes });
    return await readScopeView(settings, composition.store);
  }

  /** The deletions the threshold holds until a run with allowDeletions: who, why and since when; reads the tables only. */
  async listHeldDeletions(tenantId: string, logger: Logger): Promise<HeldDeletionList> {
    const settings = settingsForTenant(this.context.settings, tenantId)!;
    const composition = this.context.composeTenant(settings, { logger, changeSink: this.context.changes });
    return describeHeldDeletions(tenantId, await composition.state.readHeldDeletions());
  }

  readStatus(tenantId?: string): Promise<SyncStatus> {
    return readStatus(this.context, tenantId ? [tenantId] : this.tenantIds);
  }

  async readChanges(query: ChangeQuery): Promise<ChangePage> {
    await this.context.ready();
    let since = query.since;
    if (query.sinceRunId !== undefined) {
      const run = await runLogOf(this.context, query.tenantId).get(query.sinceRunId);
      const request = run ? undefined : await this.context.requests.get(query.tenantId, query.sinceRunId);
      const startedAt = run?.startedAt ?? request?.requestedAt;
      if (!startedAt) throw new UnknownRunError(`run ${query.sinceRunId} is not in the run log of tenant ${query.tenantId}`);
      // Runs of a tenant never overlap, so the events after a run's start that are not its own belong to later runs.
      since = startedAt;
    }
    return await this.context.changes.page({
      tenantId: query.tenantId,
      since: since === undefined ? undefined : new Date(since).toISOString(),
      until: query.until === undefined ? undefined : new Date(query.until).toISOString(),
      objectType: query.objectType,
      runId: query.runId,
      excludeRunId: query.sinceRunId,
      cursor: query.cursor,
      limit: query.limit,
    });
  }
}
