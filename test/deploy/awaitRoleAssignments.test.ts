// The predeploy hook waits only while the identity's role assignments are younger than the settle time, and never blocks a deploy.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { awaitRoleAssignments, remainingSettleMs } from "../../tools/deploy/awaitRoleAssignments";

const now = new Date("2026-12-04T17:00:00Z");
const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: "arm-token", expiresOnTimestamp: now.getTime() + 3_600_000 }) };
const environment = { AZURE_SUBSCRIPTION_ID: "sub-1", AZURE_RESOURCE_GROUP: "rg-prod", MANAGED_IDENTITY_PRINCIPAL_ID: "5e1f0c8a-0000-4000-8000-000000000001" };

function assignment(secondsAgo: number): { properties: { roleDefinitionId: string; createdOn: string } } {
  return { properties: { roleDefinitionId: "/roleDefinitions/x", createdOn: new Date(now.getTime() - secondsAgo * 1000).toISOString() } };
}

function run(options: { pages?: unknown[]; status?: number; environment?: Record<string, string> }) {
  const requests: { url: string; authorization: string | null }[] = [];
  const sleeps: number[] = [];
  const logs: string[] = [];
  let page = 0;
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(url), authorization: new Headers(init?.headers).get("authorization") });
    if (options.status) return new Response("denied", { status: options.status });
    return Response.json(options.pages?.[page++] ?? { value: [] });
  }) as typeof fetch;
  const result = awaitRoleAssignments({ environment: options.environment ?? environment, credential, fetch: fakeFetch, now: () => now, sleep: async (ms) => void sleeps.push(ms), log: (line) => void logs.push(line) });
  return { result, requests, sleeps, logs };
}

describe("waiting for new role assignments before the first deploy", () => {
  test("the wait is what is left of the settle time after the youngest assignment, and nothing once all are old", () => {
    const at = (secondsAgo: number) => ({ roleDefinitionId: "r", createdOn: new Date(now.getTime() - secondsAgo * 1000) });
    assert.equal(remainingSettleMs([at(3600), at(60)], now, 300), 240_000);
    assert.equal(remainingSettleMs([at(3600), at(900)], now, 300), 0);
    assert.equal(remainingSettleMs([], now, 300), 0);
  });

  test("reads every page of the identity's assignments with an ARM token and waits for the youngest", async () => {
    const { result, requests, sleeps, logs } = run({ pages: [{ value: [assignment(3600)], nextLink: "https://management.azure.com/next-page" }, { value: [assignment(45)] }] });
    assert.deepEqual(await result, { waitedMs: 255_000 });
    assert.deepEqual(sleeps, [255_000]);
    assert.equal(requests.length, 2);
    assert.match(requests[0]!.url, /^https:\/\/management\.azure\.com\/subscriptions\/sub-1\/resourceGroups\/rg-prod\/providers\/Microsoft\.Authorization\/roleAssignments\?api-version=2022-04-01&\$filter=principalId%20eq%20'5e1f0c8a-0000-4000-8000-000000000001'$/);
    assert.equal(requests[0]!.authorization, "Bearer arm-token");
    assert.equal(requests[1]!.url, "https://management.azure.com/next-page");
    assert.match(logs[0] ?? "", /waiting 255 s .*ROLE_ASSIGNMENT_SETTLE_SECONDS=0 skips this/);
  });

  test("a redeploy long after provisioning does not wait", async () => {
    const { result, sleeps, logs } = run({ pages: [{ value: [assignment(7200)] }] });
    assert.deepEqual(await result, { waitedMs: 0 });
    assert.deepEqual([sleeps, logs], [[], []]);
  });

  test("when ARM refuses or the environment is not provisioned, it says what to do and lets the deploy go on", async () => {
    const refused = run({ status: 403 });
    assert.deepEqual(await refused.result, { waitedMs: 0 });
    assert.match(refused.logs[0] ?? "", /answered 403.*If the deploy fails with 403, wait a few minutes and run azd deploy again/);
    const unprovisioned = run({ environment: {} });
    assert.deepEqual(await unprovisioned.result, { waitedMs: 0 });
    assert.match(unprovisioned.logs[0] ?? "", /run azd provision first/);
    assert.equal(unprovisioned.requests.length, 0);
    const disabled = run({ environment: { ...environment, ROLE_ASSIGNMENT_SETTLE_SECONDS: "0" } });
    assert.deepEqual([await disabled.result, disabled.requests.length], [{ waitedMs: 0 }, 0]);
  });
});
