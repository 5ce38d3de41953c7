// The alert rules in infra/app/alerts.bicep against the events the app really logs, so a renamed event or field cannot silence an alert.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type { Timer } from "@azure/functions";
import { failPoisonedSyncRequest } from "../../functions/failPoisonedSyncRequest";
import { requestSync } from "../../functions/requestSync";
import { runSyncRequest } from "../../functions/runSyncRequest";
import { scheduledSync } from "../../functions/scheduledSync";
import { commonEventFields, operationalEvents, type OperationalEvent } from "../../src/logging/operationalEvents";
import { useSyncService } from "../../src/service/serviceProvider";
import { SyncService } from "../../src/service/syncService";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import { clearQueue, httpRequest, installService, invocation, requestQueue, standInComposer, takeMessages, type LoggedLine } from "./support/functionsHarness";

const alertsPath = "infra/app/alerts.bicep";
const alertsSource = fs.readFileSync(path.resolve(__dirname, "../../..", alertsPath), "utf8");

interface AlertRule {
  name: string;
  query: string;
  events: string[];
  fields: string[];
}

/** Each rule's name and KQL, and the events and fields the query reads from the parsed JSON line `e`. */
function alertRules(): AlertRule[] {
  const rules: AlertRule[] = [];
  for (const match of alertsSource.matchAll(/name: '([a-z-]+)'[\s\S]*?query: '''([\s\S]*?)'''/g)) {
    const query = match[2]!;
    const events = [...query.matchAll(/tostring\(e\.event\) (?:== "(\w+)"|in \(([^)]*)\))/g)].flatMap((found) => (found[1] ? [found[1]] : [...found[2]!.matchAll(/"(\w+)"/g)].map((name) => name[1]!)));
    const fields = [...new Set([...query.matchAll(/\be\.(\w+)/g)].map((found) => found[1]!))];
    rules.push({ name: match[1]!, query, events: [...new Set(events)], fields });
  }
  return rules;
}

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 61, users: 24, groups: 4 }) });
});
afterEach(async () => {
  useSyncService(undefined);
  await clearQueue(requestQueue(env));
});
after(async () => env?.stop());

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "2026-01-01T02:00:00Z", next: "2026-01-02T02:00:00Z", lastUpdated: "2026-01-01T02:00:00Z" } };

/** Every line of every invocation, as Application Insights would keep it in traces.message, parsed as the rules parse it. */
const emitted: LoggedLine[] = [];

async function post(body: object): Promise<void> {
  const { context, lines } = invocation("requestSync");
  await requestSync(httpRequest({ method: "POST", path: "/api/sync", body: JSON.stringify(body), headers: { "content-type": "application/json" } }), context);
  emitted.push(...lines);
}

async function work(): Promise<void> {
  for (const { message, dequeueCount } of await takeMessages(requestQueue(env))) {
    const { context, lines } = invocation("runSyncRequest", { dequeueCount });
    await runSyncRequest(message, context);
    emitted.push(...lines);
  }
}

describe("alert rules against the logged events", () => {
  before(async () => {
    // A success, a quarantine, a run the host gave up on, and a secret about to expire: each alert's event, from the real handlers.
    const settings = env.settings({ DELETION_THRESHOLD_COUNT: "2", DELETION_THRESHOLD_PERCENT: "0" });
    installService(env, settings);
    await post({ mode: "full" });
    await work();
    for (const user of [...env.model.users.values()].filter((candidate) => !candidate.deleted).slice(0, 3)) env.model.softDeleteUser(user.id);
    await post({});
    await work();
    await post({});
    const [poisoned] = await takeMessages(requestQueue(env));
    const poison = invocation("failPoisonedSyncRequest");
    await failPoisonedSyncRequest(poisoned!.message, poison.context);
    emitted.push(...poison.lines);
    useSyncService(
      new SyncService(settings, {
        composeTenant: standInComposer(env),
        credentialStatus: async () => [
          {
            tenantId: settings.tenantId,
            mode: "clientSecret",
            clientId: "b0000000-0000-4000-8000-0000000000b1",
            secret: { vaultUrl: "https://vault.example.test", secretName: "entra-sync-secret", kind: "clientSecret", state: "expiring", expiresOn: new Date(Date.now() + 9 * 86_400_000).toISOString(), daysLeft: 9, version: "v1", message: "expires in 9 days" },
          },
        ],
      }),
    );
    const scheduled = invocation("scheduledSync");
    await scheduledSync(timer, scheduled.context);
    emitted.push(...scheduled.lines);
  });

  test("there is a rule for a failed run, a quarantined run, an expiring secret and a tenant with no success in 26 hours", () => {
    const rules = alertRules();
    const queried = (event: OperationalEvent) => rules.filter((rule) => rule.events.includes(event)).map((rule) => rule.name);
    assert.deepEqual(queried("runFailed").includes("run-failed"), true, `${alertsPath}: the run-failed rule must query runFailed`);
    assert.deepEqual(queried("runQuarantined").includes("run-quarantined"), true);
    assert.deepEqual(queried("secretExpiring"), ["secret-expiring"]);
    const stale = rules.find((rule) => rule.name === "no-recent-success");
    assert.ok(stale && stale.events.includes("runSucceeded") && /ago\(26h\)/.test(stale.query), `${alertsPath}: no-recent-success looks for runSucceeded in the last 26 hours`);
  });

  test("every event and field a rule reads is one the code logs, under that name", () => {
    for (const rule of alertRules()) {
      assert.ok(rule.events.length > 0, `${alertsPath}: rule ${rule.name} filters on no event`);
      for (const event of rule.events) assert.ok(event in operationalEvents, `${alertsPath}: rule ${rule.name} queries event "${event}", which src/logging/operationalEvents.ts does not define`);
      const known = new Set<string>([...commonEventFields, ...rule.events.flatMap((event) => [...(operationalEvents[event as OperationalEvent] ?? [])])]);
      for (const field of rule.fields) assert.ok(known.has(field), `${alertsPath}: rule ${rule.name} reads e.${field}, which none of ${rule.events.join(", ")} carries (src/logging/operationalEvents.ts)`);
    }
  });

  test("the handlers really log each queried event, as one JSON line with every field the rules read", () => {
    for (const rule of alertRules()) {
      for (const event of rule.events) {
        const line = emitted.find((entry) => entry.line.event === event)?.line;
        assert.ok(line, `no handler logged a "${event}" line in the scenario, so rule ${rule.name} could never fire`);
        for (const field of rule.fields) {
          const carried = field in line || !(operationalEvents[event as OperationalEvent] as readonly string[]).includes(field);
          assert.ok(carried, `the "${event}" line lacks ${field}, which rule ${rule.name} reads: ${JSON.stringify(line)}`);
        }
        assert.equal(line.tenantId, env.standIn.tenantId, `the "${event}" line names the tenant, the alerts' dimension`);
      }
    }
    const succeeded = emitted.find((entry) => entry.line.event === "runSucceeded")!.line;
    assert.equal(succeeded.dryRun, false, "a real run's success is what keeps the 26-hour alert quiet");
    assert.equal(emitted.find((entry) => entry.line.event === "runQuarantined")!.line.heldDeletions, 3);
    assert.equal(emitted.find((entry) => entry.line.event === "secretExpiring")!.line.daysLeft, 9);
  });
});
