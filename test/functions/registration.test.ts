// What the Functions host is told at start-up: every function's name, trigger, route, methods, auth level, schedule and queue.
import assert from "node:assert/strict";
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import { before, describe, test } from "node:test";
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { loadSettings } from "../../src/config/settings";
import { occurrencesBetween, parseNcrontab } from "../../src/schedule/ncrontab";
import { maxDequeueCount, syncPoisonQueueName, syncRequestQueueName } from "../../src/service/runQueue";

const repoRoot = path.resolve(__dirname, "../../..");

interface RegisteredBinding {
  type: string;
  direction: string;
  [property: string]: unknown;
}

interface Registration {
  name: string;
  bindings: Record<string, RegisteredBinding>;
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
}

const registrations: Registration[] = [];

/** The worker's core API, which @azure/functions looks up by module name: here it records what the host would receive. */
const fakeCoreApi = {
  setProgrammingModel: () => undefined,
  registerFunction: (metadata: Omit<Registration, "handler">, handler: Registration["handler"]) => {
    registrations.push({ ...metadata, handler });
    return { dispose: () => undefined };
  },
  registerHook: () => ({ dispose: () => undefined }),
  log: () => undefined,
};

function triggerOf(name: string): RegisteredBinding {
  const registration = registrations.find((candidate) => candidate.name === name);
  assert.ok(registration, `function ${name} is not registered; registered: ${registrations.map((r) => r.name).join(", ")}`);
  const triggers = Object.values(registration.bindings).filter((binding) => binding.type.endsWith("Trigger"));
  assert.equal(triggers.length, 1, `${name} has one trigger`);
  return triggers[0]!;
}

/** The files package.json "main" names: the host loads exactly these. */
function mainFiles(): string[] {
  const main = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { main: string }).main;
  const directory = path.join(repoRoot, path.dirname(main));
  const pattern = new RegExp(`^${path.basename(main).replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$`);
  return fs.readdirSync(directory).filter((file) => pattern.test(file)).map((file) => path.join(directory, file));
}

before(() => {
  const moduleInternals = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const load = moduleInternals._load;
  moduleInternals._load = function (request, parent, isMain) {
    return request === "@azure/functions-core" ? fakeCoreApi : load.call(this, request, parent, isMain);
  };
  for (const file of mainFiles()) require(file);
});

describe("function registrations", () => {
  test("package.json main loads every function file, and each file registers the one function it is named after", () => {
    const sources = fs.readdirSync(path.join(repoRoot, "functions")).filter((file) => file.endsWith(".ts")).map((file) => file.replace(/\.ts$/, "")).sort();
    assert.deepEqual(mainFiles().map((file) => path.basename(file, ".js")).sort(), sources);
    assert.deepEqual(registrations.map((registration) => registration.name).sort(), sources);
    for (const name of ["failPoisonedSyncRequest", "getSyncChanges", "getSyncRun", "getSyncStatus", "requestSync", "runSyncRequest", "scheduledSync"]) assert.ok(sources.includes(name), name);
  });

  test("an HTTP function answers without a function key only under /api/console, or is Graph's webhook, which verifies clientState instead", () => {
    const http = registrations.filter((registration) => Object.values(registration.bindings).some((binding) => binding.type === "httpTrigger"));
    assert.ok(http.length >= 4);
    for (const registration of http) {
      const trigger = triggerOf(registration.name);
      if (registration.name === "receiveChangeNotification") continue;
      if (trigger.authLevel === "anonymous") assert.match(String(trigger.route), /^console(\/|$)/, registration.name);
      else assert.equal(trigger.authLevel, "function", registration.name);
    }
    const webhook = triggerOf("receiveChangeNotification");
    assert.equal(webhook.authLevel, "anonymous");
    assert.equal(webhook.route, "notifications");
    assert.deepEqual(webhook.methods, ["POST"]);
  });

  test("every anonymous HTTP function refuses a caller who is not signed in (401, or the page's sign-in redirect), but the page's fixed assets", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    try {
      const anonymous = registrations.filter((registration) => Object.values(registration.bindings).some((binding) => binding.type === "httpTrigger" && binding.authLevel === "anonymous"));
      assert.ok(anonymous.length >= 10, anonymous.map((registration) => registration.name).join());
      for (const registration of anonymous) {
        // The assets are public; the webhook refuses what lacks a known clientState (test/functions/changeNotifications).
        if (registration.name === "consoleAsset" || registration.name === "receiveChangeNotification") continue;
        const trigger = triggerOf(registration.name);
        const runId = "20260101T020000Z-a1b2c3";
        for (const method of trigger.methods as string[]) {
          const request = new HttpRequest({ method, url: `https://entra-sync.example.net/api/${String(trigger.route).replace("{runId}", runId)}`, params: { runId }, headers: method === "POST" ? { "content-type": "application/json" } : {}, ...(method === "POST" ? { body: { string: "{}" } } : {}) });
          const answer = await registration.handler(request, new InvocationContext({ functionName: registration.name }));
          const expected = registration.name === "consolePage" ? 302 : 401;
          assert.equal(answer.status, expected, `${registration.name} ${method}`);
        }
      }
    } finally {
      delete process.env.WEBSITE_AUTH_ENABLED;
    }
  });

  test("HTTP functions: routes, methods and function-level keys", () => {
    const expected = {
      requestSync: { route: "sync", methods: ["POST"] },
      getSyncRun: { route: "sync/runs/{runId}", methods: ["GET"] },
      getSyncStatus: { route: "sync/status", methods: ["GET"] },
      getSyncChanges: { route: "sync/changes", methods: ["GET"] },
      getExclusionSuggestions: { route: "scope/suggestions", methods: ["GET"] },
      listSyncRuns: { route: "sync/runs", methods: ["GET"] },
      getScope: { route: "scope", methods: ["GET"] },
    };
    for (const [name, { route, methods }] of Object.entries(expected)) {
      const trigger = triggerOf(name);
      assert.equal(trigger.type, "httpTrigger", name);
      assert.equal(trigger.route, route, name);
      assert.deepEqual(trigger.methods, methods, name);
      assert.equal(trigger.authLevel, "function", name);
    }
  });

  test("docs/api.md and docs/openapi.yaml describe every route of the sync API", () => {
    const guide = fs.readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
    const openApi = fs.readFileSync(path.join(repoRoot, "docs/openapi.yaml"), "utf8");
    const http = registrations.filter((registration) => Object.values(registration.bindings).some((binding) => binding.type === "httpTrigger")).map((registration) => registration.name);
    for (const name of http) {
      const route = String(triggerOf(name).route);
      assert.ok(guide.includes(`/api/${route}`), `docs/api.md names /api/${route}`);
      assert.ok(openApi.includes(`\n  /${route}:\n`), `docs/openapi.yaml has the path /${route}`);
      assert.ok(openApi.includes(`operationId: ${name}`), `docs/openapi.yaml has the operation ${name}`);
    }
  });

  test("the timer reads SYNC_SCHEDULE and never runs on start-up", () => {
    const trigger = triggerOf("scheduledSync");
    assert.equal(trigger.type, "timerTrigger");
    assert.equal(trigger.schedule, "%SYNC_SCHEDULE%");
    assert.equal(trigger.runOnStartup, false);
  });

  test("subscription upkeep runs every 15 minutes, never on start-up, and notification tasks come from sync-notifications", () => {
    const upkeep = triggerOf("maintainChangeSubscriptions");
    assert.equal(upkeep.type, "timerTrigger");
    assert.equal(upkeep.schedule, "0 */15 * * * *");
    assert.equal(upkeep.runOnStartup, false);
    const tasks = triggerOf("runNotificationTask");
    assert.equal(tasks.type, "queueTrigger");
    assert.equal(tasks.queueName, "sync-notifications");
    assert.equal(tasks.connection, "DirectoryStorage");
  });

  test("the worker and the poison handler listen on the DirectoryStorage connection", () => {
    const worker = triggerOf("runSyncRequest");
    assert.equal(worker.type, "queueTrigger");
    assert.equal(worker.queueName, "sync-requests");
    assert.equal(worker.connection, "DirectoryStorage");
    const poison = triggerOf("failPoisonedSyncRequest");
    assert.equal(poison.type, "queueTrigger");
    assert.equal(poison.queueName, "sync-requests-poison");
    assert.equal(poison.connection, "DirectoryStorage");
    assert.equal(syncPoisonQueueName, `${syncRequestQueueName}-poison`, "the poison queue is the one the host moves failed messages to");
  });

  test("the default SYNC_SCHEDULE fires exactly once every 24 hours, at 02:00 UTC", () => {
    const settings = loadSettings({ ENTRA_TENANT_ID: "72f988bf-86f1-41af-91ab-2d7cd011db47", DirectoryStorage: "UseDevelopmentStorage=true" });
    assert.equal(settings.syncSchedule, "0 0 2 * * *");
    const schedule = parseNcrontab(settings.syncSchedule);
    const start = new Date("2026-02-25T00:00:00Z");
    const week = occurrencesBetween(schedule, start, new Date(start.getTime() + 7 * 86_400_000));
    assert.equal(week.length, 7);
    for (const time of week) assert.equal(time.toISOString().slice(11), "02:00:00.000Z");
    for (let day = 0; day < 7; day++) {
      const from = new Date(start.getTime() + day * 86_400_000 + 3_600_000 * 5);
      assert.equal(occurrencesBetween(schedule, from, new Date(from.getTime() + 86_400_000)).length, 1, "any 24 hours hold one run");
    }
  });
});

describe("host.json", () => {
  const host = JSON.parse(fs.readFileSync(path.join(repoRoot, "host.json"), "utf8")) as {
    version: string;
    functionTimeout: string;
    extensionBundle: { id: string; version: string };
    extensions: { queues: Record<string, unknown> };
    logging: { applicationInsights: { samplingSettings: { isEnabled: boolean; excludedTypes: string } } };
  };

  test("uses the v4 extension bundle", () => {
    assert.equal(host.version, "2.0");
    assert.deepEqual(host.extensionBundle, { id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" });
  });

  test("the worker's time budget, even at its largest, ends well before the function timeout", () => {
    const [hours, minutes, seconds] = host.functionTimeout.split(":").map(Number) as [number, number, number];
    const timeoutSeconds = hours * 3600 + minutes * 60 + seconds;
    const base = { ENTRA_TENANT_ID: "72f988bf-86f1-41af-91ab-2d7cd011db47", DirectoryStorage: "UseDevelopmentStorage=true" };
    assert.equal(loadSettings({ ...base, SYNC_RUN_BUDGET_SECONDS: "1200" }).runBudgetSeconds, 1200);
    assert.throws(() => loadSettings({ ...base, SYNC_RUN_BUDGET_SECONDS: "1201" }), /SYNC_RUN_BUDGET_SECONDS must be at most 1200/);
    assert.ok(timeoutSeconds - 1200 >= 600, "at least 10 minutes remain for the last page, the sweep and the closure");
  });

  test("queue settings match what the worker assumes", () => {
    const queues = host.extensions.queues;
    assert.equal(queues.maxDequeueCount, maxDequeueCount, "the worker records the failure itself on the last attempt");
    assert.equal(queues.messageEncoding, "base64", "the app sends Base64 text");
    assert.equal(queues.batchSize, 1, "one run per instance at a time; more tenants scale out");
    assert.equal(queues.newBatchThreshold, 0);
  });

  test("keeps requests, exceptions and the functions' own log lines out of sampling", () => {
    const sampling = host.logging.applicationInsights.samplingSettings;
    assert.equal(sampling.isEnabled, true);
    assert.deepEqual(sampling.excludedTypes.split(";").sort(), ["Exception", "Request", "Trace"]);
  });
});
