// Graph change notifications end to end: subscriptions kept by the upkeep, the webhook's handshake and refusals, lifecycle events, debounced runs.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { ClientSecretCredential } from "@azure/identity";
import type { HttpResponseInit } from "@azure/functions";
import { receiveChangeNotification } from "../../functions/receiveChangeNotification";
import { compose } from "../../src/compositionRoot";
import type { Settings } from "../../src/config/settings";
import { createLogger } from "../../src/logging/logger";
import { useSyncService } from "../../src/service/serviceProvider";
import { openServiceTables } from "../../src/service/serviceStorage";
import { SubscriptionRecords } from "../../src/service/subscriptionRecords";
import type { NotificationTask } from "../../src/service/notificationTasks";
import { RunLeases } from "../../src/service/runLease";
import type { RunMessage } from "../../src/service/runQueue";
import { SyncService } from "../../src/service/syncService";
import { RunLog } from "../../src/store/runLog";
import { emptyStoreMetrics } from "../../src/store/tableWriter";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { certDir, standInClient, startEnvironment, testWriteBuffer, type TestEnvironment } from "../support/testEnvironment";
import { startFunctionAppHost, type FunctionAppHost } from "./support/functionAppHost";
import { httpRequest, invocation } from "./support/functionsHarness";

let env: TestEnvironment;
let host: FunctionAppHost;
/** An app registration that also holds Group.Read.All, the documented permission for group subscriptions. */
const groupReader = { clientId: "22222222-2222-2222-2222-222222222222", clientSecret: "group-reader-secret" };

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 16, users: 30, groups: 6 }), standIn: { deliveryRetryDelaysMs: [] } });
  env.standIn.registerClient({ ...groupReader, roles: ["User.Read.All", "GroupMember.Read.All", "Group.Read.All"] });
  host = await startFunctionAppHost({ connectionString: env.azurite.connectionString, certDir, pollIntervalMs: 50 });
});
afterEach(async () => {
  env.standIn.subscriptions.removeAll();
  await env.standIn.subscriptions.settle();
  await host.drain(30_000);
  useSyncService(undefined);
});
after(async () => {
  await host?.stop();
  await env?.stop();
});

interface Installed {
  service: SyncService;
  settings: Settings;
}

/** A service with change notifications on, posting to the in-process host, signed in as the default client or the group reader. */
function install(options: { client?: typeof standInClient; extra?: Record<string, string>; prefixFrom?: Settings } = {}): Installed {
  const settings = env.settings({ SYNC_CHANGE_NOTIFICATIONS: "true", CHANGE_NOTIFICATION_URL: host.notificationUrl, CHANGE_NOTIFICATION_DEBOUNCE_SECONDS: "1", ...(options.prefixFrom ? { TABLE_PREFIX: options.prefixFrom.tablePrefix } : {}), ...options.extra });
  const client = options.client ?? standInClient;
  const service = new SyncService(settings, {
    composeTenant: (tenantSettings, composeOptions) =>
      compose(tenantSettings, {
        ...composeOptions,
        credential: new ClientSecretCredential(tenantSettings.tenantId, client.clientId, client.clientSecret, { authorityHost: env.standIn.url, disableInstanceDiscovery: true }),
        sleep: async () => undefined,
        writeBufferOperations: testWriteBuffer,
      }),
  });
  useSyncService(service);
  return { service, settings };
}

const logger = (lines: string[] = []) => createLogger((level, message, fields) => lines.push(`${level} ${message} ${JSON.stringify(fields)}`), {}, "debug");

async function post(path: string, body: string | Buffer, contentType = "application/json"): Promise<HttpResponseInit> {
  const { context } = invocation("receiveChangeNotification");
  const request = httpRequest({ method: "POST", path, body: typeof body === "string" ? body : body.toString("latin1"), headers: { "content-type": contentType } });
  return await receiveChangeNotification(request, context);
}

async function notificationRuns(settings: Settings) {
  const runs = await new RunLog(openServiceTables(settings).runs, settings.tenantId, emptyStoreMetrics()).listRecent(100);
  return runs.filter((run) => run.trigger === "notification");
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("webhook", () => {
  test("the validation request gets its token back as text/plain, at once", async () => {
    install();
    const token = "Validation: Testing client application reachability for subscription Request-Id: 1234 & more";
    const answer = await post(`/api/notifications?validationToken=${encodeURIComponent(token)}`, "", "text/plain");
    assert.equal(answer.status, 200);
    assert.equal(answer.body, token);
    assert.match(String((answer.headers as Record<string, string>)["content-type"]), /^text\/plain/);
    assert.equal((await post("/api/notifications?validationToken=", "", "text/plain")).status, 400);
  });

  test("malformed, oversized or unverified notifications are refused with a 4xx and start nothing", async () => {
    const { service, settings } = install();
    await service.maintainSubscriptions(logger());
    const [record] = await new SubscriptionRecords(openServiceTables(settings).syncState).readAll(settings.tenantId);
    assert.ok(record?.subscriptionId);
    const item = (changes: Record<string, unknown>) => JSON.stringify({ value: [{ subscriptionId: record.subscriptionId, clientState: record.clientState, tenantId: settings.tenantId, changeType: "updated", resource: "Users/x", ...changes }] });
    const cases: Array<[string, string | Buffer, string, number]> = [
      ["wrong clientState", item({ clientState: "guessed" }), "application/json", 403],
      ["unknown subscription", item({ subscriptionId: "00000000-0000-0000-0000-000000000001" }), "application/json", 403],
      ["unknown tenant", item({ tenantId: "00000000-0000-0000-0000-00000000beef" }), "application/json", 403],
      ["no clientState", item({ clientState: undefined }), "application/json", 403],
      ["not JSON", "{value:", "application/json", 400],
      ["empty collection", JSON.stringify({ value: [] }), "application/json", 400],
      ["changeType and lifecycleEvent together", item({ lifecycleEvent: "missed" }), "application/json", 400],
      ["text/plain body", item({}), "text/plain", 415],
      ["over 1 MiB", Buffer.alloc(1024 * 1024 + 1, 32), "application/json", 413],
    ];
    for (const [name, body, contentType, status] of cases) {
      const answer = await post("/api/notifications", body, contentType);
      assert.equal(answer.status, status, name);
      assert.doesNotMatch(JSON.stringify(answer.jsonBody ?? ""), new RegExp(record.clientState), `${name}: the answer never shows the secret`);
    }
    const status = await service.readStatus();
    assert.equal(status.tenants[0]!.changeNotifications.pending, null, "nothing is pending");
    await host.drain(10_000);
    assert.deepEqual(await notificationRuns(settings), [], "no run started");
    assert.equal((await post("/api/notifications", item({}))).status, 202, "the genuine notification is accepted");
  });

  test("a storm of 10,000 notifications across two instances starts one incremental run, and the secret is never logged", async () => {
    const { service, settings } = install();
    // A second instance of the app: its own process state (caches), the same tables and queues.
    const other = new SyncService(settings, { composeTenant: () => assert.fail("the webhook composes nothing") });
    const lines: string[] = [];
    await service.maintainSubscriptions(logger(lines));
    const [record] = await new SubscriptionRecords(openServiceTables(settings).syncState).readAll(settings.tenantId);
    const batch = JSON.stringify({ value: Array.from({ length: 50 }, (_, index) => ({ subscriptionId: record!.subscriptionId, clientState: record!.clientState, tenantId: settings.tenantId, changeType: "updated", resource: `Users/${index}` })) });
    const onOther = async () => (await other.receiveChangeNotifications({ validationToken: null, contentType: "application/json", body: Buffer.from(batch) }, logger(lines))).status;
    for (let wave = 0; wave < 20; wave++) {
      const answers = await Promise.all(Array.from({ length: 10 }, async (_, index) => (index % 2 === 0 ? (await post("/api/notifications", batch)).status : await onOther())));
      assert.ok(answers.every((status) => status === 202));
    }
    await waitFor("the debounced run", async () => (await notificationRuns(settings)).some((run) => run.status === "succeeded"));
    await host.drain(20_000);
    const runs = await notificationRuns(settings);
    assert.ok(runs.length >= 1 && runs.length <= 2, `10,000 notifications started ${runs.length} runs`);
    assert.equal((await service.readRun(runs[0]!.runId))?.request?.mode, "incremental", "asked as an incremental run (the first reads everything, having no checkpoint)");
    for (const line of lines) assert.ok(!line.includes(record!.clientState), "the clientState is never logged");
  });
});

describe("subscriptions", () => {
  test("with GroupMember.Read.All only users are subscribed, and the status says group changes wait for the next scheduled run", async () => {
    const { service, settings } = install();
    const lines: string[] = [];
    const { results } = await service.maintainSubscriptions(logger(lines));
    assert.deepEqual(results[0]!.resources.map((resource) => [resource.resource, resource.action]), [["users", "created"], ["groups", "notWanted"]]);
    const live = env.standIn.subscriptions.list();
    assert.equal(live.length, 1);
    assert.equal(live[0]!.resource, "users");
    assert.equal(live[0]!.changeType, "updated,deleted");
    assert.equal(live[0]!.notificationUrl, host.notificationUrl);
    assert.equal(live[0]!.lifecycleNotificationUrl, host.notificationUrl);
    assert.equal(live[0]!.clientState?.length, 128);
    assert.ok(env.standIn.subscriptions.deliveries.some((delivery) => delivery.kind === "validation" && delivery.status === 200), "Graph's validation request was answered");
    const tenant = (await service.readStatus()).tenants[0]!;
    assert.equal(tenant.changeNotifications.enabled, true);
    assert.deepEqual(tenant.changeNotifications.subscriptions.map((view) => [view.resource, view.subscriptionId, view.expiresAt]), [["users", live[0]!.id, live[0]!.expirationDateTime]]);
    assert.equal(tenant.changeNotifications.groupChanges, "nextScheduledRun");
    assert.ok(tenant.warnings.some((warning) => /Group changes wait for the next scheduled run: Group\.Read\.All is not granted/.test(warning)), tenant.warnings.join("\n"));
    assert.ok(!JSON.stringify(tenant).includes(live[0]!.clientState!), "the status never shows the secret");
    for (const line of lines) assert.ok(!line.includes(live[0]!.clientState!), "the clientState is never logged");
    assert.ok(settings.changeNotifications.enabled);
  });

  test("with Group.Read.All users and groups are subscribed; turning the feature off deletes both", async () => {
    const { service, settings } = install({ client: groupReader });
    await service.maintainSubscriptions(logger());
    assert.deepEqual(env.standIn.subscriptions.list().map((subscription) => subscription.resource).sort(), ["groups", "users"]);
    assert.equal((await service.readStatus()).tenants[0]!.changeNotifications.groupChanges, "notified");
    const off = install({ client: groupReader, prefixFrom: settings, extra: { SYNC_CHANGE_NOTIFICATIONS: "false" } });
    assert.ok((await off.service.readStatus()).tenants[0]!.warnings.some((warning) => /SYNC_CHANGE_NOTIFICATIONS is off but subscriptions remain/.test(warning)));
    const { results } = await off.service.maintainSubscriptions(logger());
    assert.deepEqual(results[0]!.resources.map((resource) => resource.action), ["deleted", "deleted"]);
    assert.deepEqual(env.standIn.subscriptions.list(), []);
    const status = (await off.service.readStatus()).tenants[0]!;
    assert.deepEqual(status.changeNotifications.subscriptions, []);
    assert.equal(status.changeNotifications.enabled, false);
  });

  test("a subscription near its expiry is renewed; one Graph no longer has is re-created and a catch-up run follows", async () => {
    const { service, settings } = install();
    await service.maintainSubscriptions(logger());
    const [first] = env.standIn.subscriptions.list();
    assert.ok(first);
    const { results: quiet } = await service.maintainSubscriptions(logger());
    assert.equal(quiet[0]!.resources[0]!.action, "kept", "a fresh subscription is left alone");
    env.standIn.subscriptions.setExpiration(first.id, new Date(Date.now() + 24 * 3600_000));
    const { results: renewed } = await service.maintainSubscriptions(logger());
    assert.equal(renewed[0]!.resources[0]!.action, "renewed");
    const afterRenewal = env.standIn.subscriptions.list()[0]!;
    assert.equal(afterRenewal.id, first.id);
    assert.ok(Date.parse(afterRenewal.expirationDateTime) > Date.now() + 28 * 24 * 3600_000, "renewed to nearly the 41,760-minute maximum");
    env.standIn.subscriptions.removeAll();
    const { results: recreated } = await service.maintainSubscriptions(logger());
    assert.equal(recreated[0]!.resources[0]!.action, "recreated");
    const replacement = env.standIn.subscriptions.list()[0]!;
    assert.notEqual(replacement.id, first.id);
    assert.notEqual(replacement.clientState, first.clientState, "a new secret with the new subscription");
    const status = (await service.readStatus()).tenants[0]!.changeNotifications;
    assert.equal(status.subscriptions[0]!.subscriptionId, replacement.id);
    assert.ok(status.pending, "changes made while no subscription existed get a run");
    await waitFor("the catch-up run", async () => (await notificationRuns(settings)).length > 0);
  });
});

describe("lifecycle notifications", () => {
  test("reauthorizationRequired reauthorizes, subscriptionRemoved re-creates, missed requests an incremental run", async () => {
    const { service, settings } = install();
    await service.maintainSubscriptions(logger());
    const [subscription] = env.standIn.subscriptions.list();
    assert.ok(subscription);
    await env.standIn.subscriptions.sendLifecycle(subscription.id, "reauthorizationRequired");
    await waitFor("the reauthorization", async () => env.standIn.requests.some((request) => request.method === "POST" && request.path === `/v1.0/subscriptions/${subscription.id}/reauthorize` && request.status === 204));
    await env.standIn.subscriptions.sendLifecycle(subscription.id, "missed");
    await waitFor("the run for missed notifications", async () => (await notificationRuns(settings)).length === 1);
    await env.standIn.subscriptions.sendLifecycle(subscription.id, "subscriptionRemoved");
    await waitFor("the re-created subscription", async () => env.standIn.subscriptions.list().some((candidate) => candidate.resource === "users" && candidate.id !== subscription.id));
    await host.drain(20_000);
    assert.ok((await notificationRuns(settings)).length >= 2, "changes possibly lost with the removed subscription get a run");
  });
});

describe("debounce and active runs", () => {
  /** A service whose queues are in memory, so each debounce check is driven by the test and no worker runs. */
  function withQueues() {
    const settings = env.settings({ SYNC_CHANGE_NOTIFICATIONS: "true", CHANGE_NOTIFICATION_URL: host.notificationUrl, CHANGE_NOTIFICATION_DEBOUNCE_SECONDS: "1" });
    const runs: RunMessage[] = [];
    const tasks: Array<{ task: NotificationTask; delaySeconds: number | undefined }> = [];
    const service = new SyncService(settings, {
      composeTenant: (tenantSettings, composeOptions) => compose(tenantSettings, { ...composeOptions, credential: new ClientSecretCredential(tenantSettings.tenantId, standInClient.clientId, standInClient.clientSecret, { authorityHost: env.standIn.url, disableInstanceDiscovery: true }) }),
      queue: { send: async (message) => void runs.push(message) },
      notificationTasks: { send: async (task, options) => void tasks.push({ task, delaySeconds: options?.delaySeconds }) },
    });
    // The webhook (Graph's validation request) reaches this service through the host.
    useSyncService(service);
    return { service, settings, runs, tasks };
  }
  const debounce = (service: SyncService, tenantId: string) => service.processNotificationTask({ task: "debounce", tenantId }, { logger: logger() }) as Promise<{ outcome: string; run?: { runId: string; alreadyRunning: boolean } }>;
  const quiet = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  test("a run active since before the last notification gets a follow-up run once it ends; one requested after it covers the burst", async () => {
    const { service, settings, runs, tasks } = withQueues();
    await service.maintainSubscriptions(logger());
    const [record] = await new SubscriptionRecords(openServiceTables(settings).syncState).readAll(settings.tenantId);
    const notify = () => service.receiveChangeNotifications({ validationToken: null, contentType: "application/json", body: Buffer.from(JSON.stringify({ value: [{ subscriptionId: record!.subscriptionId, clientState: record!.clientState, tenantId: settings.tenantId, changeType: "updated", resource: "Users/x" }] })) }, logger());
    const tenantId = settings.tenantId;

    const earlier = await service.requestRun({ tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, logger());
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await notify()).status, 202);
    assert.deepEqual(tasks.map((entry) => [entry.task.task, entry.delaySeconds]), [["debounce", 1]], "the burst's first notification schedules one check");
    assert.equal((await debounce(service, tenantId)).outcome, "waiting", "checked before the quiet period ended");
    await quiet();
    const during = await debounce(service, tenantId);
    assert.equal(during.outcome, "waitingForActiveRun", "the active run may have read its deltas before the change");
    assert.equal(during.run?.runId, earlier.runId);
    assert.ok((await service.readStatus()).tenants[0]!.changeNotifications.pending, "the notifications stay pending");
    const leases = new RunLeases(openServiceTables(settings).syncState, 60_000);
    assert.ok(await leases.release((await leases.read(tenantId))!), "the earlier run ends");
    await quiet();
    const after = await debounce(service, tenantId);
    assert.equal(after.outcome, "requested");
    assert.equal(after.run?.alreadyRunning, false);
    assert.equal(runs.at(-1)?.trigger, "notification", "a run for the notified change was queued");
    assert.equal((await service.readStatus()).tenants[0]!.changeNotifications.pending, null);

    assert.equal((await notify()).status, 202);
    await quiet();
    const later = await service.requestRun({ tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, logger());
    assert.equal(later.alreadyRunning, true, "the notified run still holds the tenant");
    await leases.release((await leases.read(tenantId))!);
    const manual = await service.requestRun({ tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, logger());
    const queued = runs.length;
    const covered = await debounce(service, tenantId);
    assert.equal(covered.outcome, "requested");
    assert.equal(covered.run?.runId, manual.runId, "a run requested after the last notification covers it");
    assert.equal(runs.length, queued, "so no second run is queued");
  });
});

describe("near real time", () => {
  test("changes in the directory reach the tables through notifications alone, with no manual trigger", async () => {
    const { service, settings } = install({ client: groupReader });
    const first = await service.requestRun({ tenantId: env.standIn.tenantId, mode: "full", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, logger());
    await host.drain(30_000);
    await service.maintainSubscriptions(logger());
    const model = env.model;
    const users = [...model.users.values()].filter((user) => !user.deleted);
    const groups = [...model.groups.values()].filter((group) => !group.deleted);
    model.updateUser(users[0]!.id, { jobTitle: "Head of Notifications" });
    const joiner = model.createUser({ displayName: "New Student" });
    model.addMember(groups[0]!.id, joiner.id);
    model.softDeleteUser(users[1]!.id);
    model.updateGroup(groups[1]!.id, { description: "renamed by a notification test" });
    model.removeMember(groups[2]!.id, [...(model.members.get(groups[2]!.id)?.keys() ?? [])][0] ?? joiner.id);
    await env.standIn.subscriptions.settle();
    const composition = env.compose(settings);
    await waitFor("the store to match the directory", async () => {
      try {
        assertStoreMatches(await composition.store.snapshot(), model);
        return true;
      } catch {
        return false;
      }
    });
    assert.ok(first.runId);
    assert.ok(host.calls.some((call) => call.function === "receiveChangeNotification" && call.status === 202), "Graph's notifications were accepted");
  });
});
