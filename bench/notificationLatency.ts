// `npm run bench:notifications`: time from a change in the stand-in to the changed row in the table, through Graph change notifications alone.
import { ClientSecretCredential } from "@azure/identity";
import { parseArgs } from "node:util";
import { loadSettings } from "../src/config/settings";
import { compose } from "../src/compositionRoot";
import { createLogger } from "../src/logging/logger";
import { useSyncService } from "../src/service/serviceProvider";
import { openServiceTables } from "../src/service/serviceStorage";
import { SyncService } from "../src/service/syncService";
import { RunLog } from "../src/store/runLog";
import type { SyncRunSummary } from "../src/sync/syncRun";
import { emptyStoreMetrics } from "../src/store/tableWriter";
import type { DirectorySnapshot } from "../src/store/directoryStore";
import { startAzurite } from "../standin/azuriteProcess";
import { DirectoryModel } from "../standin/directoryModel";
import { GraphStandIn } from "../standin/graphStandIn";
import { relaunchTrustingStandIn, standInCertDir } from "../standin/trustedRelaunch";
import { startFunctionAppHost } from "../test/functions/support/functionAppHost";

const client = { clientId: "44444444-4444-4444-4444-444444444444", clientSecret: "bench-notifications" };

function options() {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "300" },
      groups: { type: "string", default: "20" },
      changes: { type: "string", default: "200" },
      burst: { type: "string", default: "20" },
      "gap-seconds": { type: "string", default: "20" },
      debounce: { type: "string", default: "10" },
      // host.json maxPollingInterval: an idle queue is polled at least this often; the worst case is the default.
      "poll-ms": { type: "string", default: "10000" },
      storm: { type: "string", default: "10000" },
      "notifications-per-post": { type: "string", default: "10" },
    },
  });
  const number = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number`);
    return value;
  };
  return { users: number("users"), groups: number("groups"), changes: number("changes"), burst: number("burst"), gapMs: number("gap-seconds") * 1000, debounce: number("debounce"), pollMs: number("poll-ms"), storm: number("storm"), perPost: number("notifications-per-post") };
}

type Expectation = (snapshot: DirectorySnapshot) => boolean;

interface PendingChange {
  at: number;
  kind: string;
  landed: Expectation;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<number> {
  const relaunched = relaunchTrustingStandIn();
  if (relaunched !== undefined) return relaunched;
  const opts = options();
  const azurite = await startAzurite();
  const model = DirectoryModel.generate({ seed: 16, users: opts.users, groups: opts.groups });
  const standIn = await GraphStandIn.start({ certDir: standInCertDir, model, maxNotificationsPerPost: opts.perPost });
  standIn.registerClient({ ...client, roles: ["User.Read.All", "GroupMember.Read.All", "Group.Read.All"] });
  const host = await startFunctionAppHost({ connectionString: azurite.connectionString, certDir: standInCertDir, pollIntervalMs: opts.pollMs });
  const logger = createLogger(() => undefined, {}, "error");
  const settings = loadSettings({
    ENTRA_TENANT_ID: standIn.tenantId,
    GRAPH_ENDPOINT: standIn.url,
    AUTHORITY_HOST: standIn.url,
    DirectoryStorage: azurite.connectionString,
    TABLE_PREFIX: "bench",
    SYNC_CHANGE_NOTIFICATIONS: "true",
    CHANGE_NOTIFICATION_URL: host.notificationUrl,
    CHANGE_NOTIFICATION_DEBOUNCE_SECONDS: String(opts.debounce),
  });
  const credential = () => new ClientSecretCredential(settings.tenantId, client.clientId, client.clientSecret, { authorityHost: standIn.url, disableInstanceDiscovery: true });
  const service = new SyncService(settings, { composeTenant: (tenantSettings, composeOptions) => compose(tenantSettings, { ...composeOptions, credential: credential() }) });
  useSyncService(service);
  const reader = compose(settings, { logger, credential: credential() });
  const runLog = new RunLog<SyncRunSummary>(openServiceTables(settings).runs, settings.tenantId, emptyStoreMetrics());
  try {
    await service.requestRun({ tenantId: settings.tenantId, mode: "full", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "bench" }, logger);
    await host.drain(300_000);
    await service.maintainSubscriptions(logger);
    const graphBefore = standIn.graphRequestCount();
    const runsBefore = (await runLog.listRecent(1000)).length;

    const latencies: number[] = [];
    const pending: PendingChange[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching || pending.length > 0) {
        const snapshot = await reader.store.snapshot();
        const now = Date.now();
        for (let index = pending.length - 1; index >= 0; index--) {
          if (pending[index]!.landed(snapshot)) latencies.push(now - pending.splice(index, 1)[0]!.at);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const live = () => [...model.users.values()].filter((user) => !user.deleted);
    const started = Date.now();
    for (let done = 0, burst = 0; done < opts.changes; burst++) {
      for (let index = 0; index < opts.burst && done < opts.changes; index++, done++) {
        const at = Date.now();
        const roll = done % 10;
        if (roll === 0) {
          const user = model.createUser({ displayName: `Bench joiner ${done}` });
          pending.push({ at, kind: "create", landed: (snapshot) => snapshot.users.some((row) => row.id === user.id) });
        } else if (roll === 1) {
          const user = live()[done % live().length]!;
          model.softDeleteUser(user.id);
          pending.push({ at, kind: "softDelete", landed: (snapshot) => snapshot.users.some((row) => row.id === user.id && row.deleted) });
        } else {
          const user = live()[(done * 7) % live().length]!;
          const title = `bench-${done}`;
          model.updateUser(user.id, { jobTitle: title });
          pending.push({ at, kind: "update", landed: (snapshot) => snapshot.users.some((row) => row.id === user.id && row.properties["jobTitle"] === title) });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (done < opts.changes) await new Promise((resolve) => setTimeout(resolve, opts.gapMs));
    }
    const deadline = Date.now() + 300_000;
    while (pending.length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const burstsMs = Date.now() - started;
    await host.drain(120_000);
    const burstRuns = (await runLog.listRecent(1000)).slice(0, (await runLog.listRecent(1000)).length - runsBefore);
    const graphAfterBursts = standIn.graphRequestCount();

    // The storm: every change in one go, as a bulk import would make them.
    const stormStart = Date.now();
    const users = live();
    let stormTitle = "";
    for (let index = 0; index < opts.storm; index++) {
      stormTitle = `storm-${index}`;
      model.updateUser(users[index % users.length]!.id, { jobTitle: stormTitle });
    }
    const lastUser = users[(opts.storm - 1) % users.length]!;
    pending.push({ at: stormStart, kind: "storm", landed: (snapshot) => snapshot.users.some((row) => row.id === lastUser.id && row.properties["jobTitle"] === stormTitle) });
    const stormLatencyIndex = latencies.length;
    while (pending.length > 0 && Date.now() < stormStart + 300_000) await new Promise((resolve) => setTimeout(resolve, 200));
    await standIn.subscriptions.settle();
    await host.drain(120_000);
    watching = false;
    await watcher;
    const all = await runLog.listRecent(1000);
    const stormRuns = all.length - runsBefore - burstRuns.length;
    const webhookCalls = host.calls.filter((call) => call.function === "receiveChangeNotification" && call.at >= stormStart).length;
    const sorted = latencies.slice(0, stormLatencyIndex).sort((a, b) => a - b);
    const notificationDeliveries = standIn.subscriptions.deliveries.filter((delivery) => delivery.kind === "change");
    const result = {
      options: opts,
      changes: sorted.length,
      unlanded: pending.length,
      latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] ?? NaN },
      bursts: Math.ceil(opts.changes / opts.burst),
      runs: burstRuns.length,
      changesPerRun: sorted.length / Math.max(1, burstRuns.length),
      runTriggers: burstRuns.map((run) => run.trigger),
      graphRequestsDuringBursts: graphAfterBursts - graphBefore,
      graphRequestsPerRun: burstRuns.map((run) => run.graph.requests),
      burstsWallMs: burstsMs,
      storm: { changes: opts.storm, webhookCalls, runs: stormRuns, lastChangeLandedMs: latencies[stormLatencyIndex] ?? NaN, graphRequests: standIn.graphRequestCount() - graphAfterBursts },
      notificationPosts: notificationDeliveries.length,
      notificationPostsRefused: notificationDeliveries.filter((delivery) => delivery.status === undefined || delivery.status >= 300).map((delivery) => delivery.status ?? delivery.error).slice(0, 5),
      notificationPostsRefusedCount: notificationDeliveries.filter((delivery) => delivery.status === undefined || delivery.status >= 300).length,
    };
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } finally {
    useSyncService(undefined);
    await host.stop();
    await standIn.stop();
    await azurite.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
