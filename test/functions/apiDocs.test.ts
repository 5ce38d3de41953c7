// docs/api.md and docs/openapi.yaml against the code: every registered function, every change kind and every status, so the docs cannot drift.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { leaseStates, runStatuses, syncRunStatuses } from "../../src/service/apiStatuses";
import { changeKinds } from "../../src/sync/changeKinds";
import { loadRegistrations, repoRoot, triggerOf, type Registration } from "./support/registrations";

const guidePath = "docs/api.md";
const openApiPath = "docs/openapi.yaml";
const guide = fs.readFileSync(path.join(repoRoot, guidePath), "utf8");
const openApi = fs.readFileSync(path.join(repoRoot, openApiPath), "utf8");

let registrations: Registration[];
before(() => {
  registrations = loadRegistrations();
});

/** The function table at the top of docs/api.md: name → trigger cell. */
function guideRows(): Map<string, string> {
  const rows = new Map<string, string>();
  const start = guide.indexOf("| Function | Trigger |");
  assert.notEqual(start, -1, `${guidePath} needs its function table, headed "| Function | Trigger | What it does |"`);
  const table = guide.slice(start, guide.indexOf("\n\n", start));
  for (const match of table.matchAll(/^\| `([A-Za-z0-9]+)` \| (.+?) \| .* \|$/gm)) rows.set(match[1]!, match[2]!);
  return rows;
}

/** openapi.yaml's operations: operationId → "METHOD /route". */
function openApiOperations(): Map<string, string> {
  const operations = new Map<string, string>();
  let route: string | undefined;
  let method: string | undefined;
  for (const line of openApi.slice(openApi.indexOf("\npaths:\n"), openApi.indexOf("\ncomponents:\n")).split("\n")) {
    const pathLine = /^ {2}(\/\S*):$/.exec(line);
    const methodLine = /^ {4}(get|post|put|patch|delete):$/.exec(line);
    const operationLine = /^ {6}operationId: (\S+)$/.exec(line);
    if (pathLine) route = pathLine[1];
    else if (methodLine) method = methodLine[1]!.toUpperCase();
    else if (operationLine) operations.set(operationLine[1]!, `${method} ${route}`);
  }
  return operations;
}

/** The enum of one property of one schema under components/schemas. */
function openApiEnum(schema: string, property: string): string[] {
  const start = openApi.indexOf(`\n    ${schema}:\n`);
  assert.notEqual(start, -1, `${openApiPath} has no schema ${schema} under components/schemas`);
  const rest = openApi.slice(start + schema.length + 7);
  const block = rest.slice(0, rest.search(/\n {4}\S/) === -1 ? undefined : rest.search(/\n {4}\S/));
  const at = block.search(new RegExp(`\\n\\s+${property}:`));
  assert.notEqual(at, -1, `${openApiPath}: schema ${schema} has no property ${property}`);
  const values = /enum: \[([^\]]*)\]/.exec(block.slice(at, at + 400));
  assert.ok(values, `${openApiPath}: ${schema}.${property} has no enum`);
  return values[1]!.split(",").map((value) => value.trim());
}

/** What a function's row in docs/api.md must say about its trigger. */
function triggerText(registration: Registration): { text: string[]; describe: string } {
  const trigger = triggerOf(registration);
  if (trigger.type === "httpTrigger") {
    const methods = (trigger.methods as string[] | undefined) ?? ["GET", "POST"];
    const route = (trigger.route as string | undefined) ?? registration.name;
    const text = methods.map((method) => `\`${method} /api/${route}\``);
    return { text, describe: text.join(", ") };
  }
  if (trigger.type === "timerTrigger") return { text: ["timer", `\`${String(trigger.schedule)}\``], describe: `timer, \`${String(trigger.schedule)}\`` };
  if (trigger.type === "queueTrigger") return { text: [`queue \`${String(trigger.queueName)}\``], describe: `queue \`${String(trigger.queueName)}\` on \`${String(trigger.connection)}\`` };
  return { text: [trigger.type], describe: trigger.type };
}

describe("the API docs against the code", () => {
  test("docs/api.md has one row per registered function, naming its trigger, and no row for a function that is not registered", () => {
    const rows = guideRows();
    for (const registration of registrations) {
      const { text, describe: trigger } = triggerText(registration);
      const row = rows.get(registration.name);
      assert.ok(row, `functions/${registration.name}.ts registers ${registration.name} (${trigger}), which ${guidePath} does not list: add the row "| \`${registration.name}\` | ${trigger} | <what it does> |" to the function table at the top of ${guidePath}`);
      for (const part of text) assert.ok(row.includes(part), `${guidePath}: the row of ${registration.name} must name its trigger ${part} (it says: ${row})`);
    }
    const registered = new Set(registrations.map((registration) => registration.name));
    for (const name of rows.keys()) assert.ok(registered.has(name), `${guidePath} lists ${name}, which no file in functions/ registers: remove its row or register it`);
  });

  test("docs/openapi.yaml has one operation per HTTP function, at its route and method, and none that is not registered", () => {
    const operations = openApiOperations();
    const http = registrations.filter((registration) => triggerOf(registration).type === "httpTrigger");
    assert.ok(http.length >= 6);
    for (const registration of http) {
      const trigger = triggerOf(registration);
      const route = `/${(trigger.route as string | undefined) ?? registration.name}`;
      for (const method of (trigger.methods as string[] | undefined) ?? ["GET", "POST"]) {
        const where = `under paths: in ${openApiPath} add\n  ${route}:\n    ${method.toLowerCase()}:\n      operationId: ${registration.name}\n      summary: …\n      responses: …`;
        assert.equal(operations.get(registration.name), `${method} ${route}`, `functions/${registration.name}.ts registers ${method} /api${route}; ${where}`);
      }
    }
    const names = new Set(http.map((registration) => registration.name));
    for (const [operationId, at] of operations) assert.ok(names.has(operationId), `${openApiPath} describes ${operationId} (${at}), which no file in functions/ registers as an HTTP function: remove it or register it`);
  });

  test("every change kind the engine records is listed in both docs, and nothing else", () => {
    const kindsParagraph = /^Kinds: ([\s\S]*?)\n\n/m.exec(guide.slice(guide.indexOf("## `GET /api/sync/changes`")));
    assert.ok(kindsParagraph, `${guidePath}: the section "GET /api/sync/changes" needs a paragraph starting "Kinds: "`);
    const documented = [...kindsParagraph[1]!.matchAll(/`((?:user|group|device|membership)[A-Z][A-Za-z]+)`/g)].map((match) => match[1]!).filter((word) => !word.endsWith("Id"));
    const missing = changeKinds.filter((kind) => !documented.includes(kind));
    assert.deepEqual(missing, [], `add ${missing.map((kind) => `\`${kind}\``).join(", ")} to "Kinds:" under GET /api/sync/changes in ${guidePath}`);
    const extra = documented.filter((kind) => !(changeKinds as readonly string[]).includes(kind));
    assert.deepEqual(extra, [], `${guidePath} lists change kinds the engine never records (${extra.join(", ")}): remove them, or add them to src/sync/changeKinds.ts`);
    assert.deepEqual(openApiEnum("ChangeEvent", "kind").sort(), [...changeKinds].sort(), `ChangeEvent.kind's enum in ${openApiPath} must be exactly src/sync/changeKinds.ts's list`);
  });

  test("every status an answer can carry is listed in both docs", () => {
    const expected: Array<[string, string, readonly string[]]> = [
      ["RunView", "status", runStatuses],
      ["SyncRunSummary", "status", syncRunStatuses],
      ["RunOutline", "status", syncRunStatuses],
      ["Lease", "state", leaseStates],
      ["SyncAccepted", "status", leaseStates],
    ];
    for (const [schema, property, values] of expected) {
      assert.deepEqual(openApiEnum(schema, property).sort(), [...values].sort(), `${schema}.${property}'s enum in ${openApiPath} must be exactly src/service/apiStatuses.ts's list: ${values.join(", ")}`);
    }
    const runSection = guide.slice(guide.indexOf("## `GET /api/sync/runs/{runId}`"), guide.indexOf("## `GET /api/sync/status`"));
    for (const status of runStatuses) assert.ok(runSection.includes(`\`${status}\``), `say what status \`${status}\` means in the section "GET /api/sync/runs/{runId}" of ${guidePath}`);
  });
});
