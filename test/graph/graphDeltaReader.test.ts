// The reader's answers to Graph's throttling: Retry-After honoured, and after a sign of the quota, pacing that avoids more 429s.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Client } from "@microsoft/microsoft-graph-client";
import { GraphDeltaReader } from "../../src/graph/graphDeltaReader";
import { DeltaTokenExpiredError, GraphRequestError } from "../../src/graph/graphErrors";
import { emptyGraphMetrics } from "../../src/graph/graphMetrics";

const endpoint = "https://graph.example.test";
const page = (body: unknown, status = 200, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** A Graph client whose answers a test scripts, one per request, with a clock that only moves when the reader sleeps. */
function scripted(answer: (request: number, now: number) => Response) {
  let clock = 1_000_000;
  let requests = 0;
  const request = { middlewareOptions: () => request, responseType: () => ({ get: async () => answer(++requests, clock) }) };
  const client = { api: () => request } as unknown as Client;
  const sleeps: number[] = [];
  const metrics = emptyGraphMetrics();
  const reader = new GraphDeltaReader(client, endpoint, metrics, { maxRetries: 3, sleep: async (ms) => void (sleeps.push(ms), (clock += ms)), now: () => clock });
  return { reader, metrics, sleeps, requests: () => requests };
}

describe("Graph delta reader", () => {
  test("a 429 is retried after its Retry-After, and Retry-After as an HTTP date works too", async () => {
    const { reader, metrics, sleeps } = scripted((n, now) =>
      n === 1 ? page({ error: { code: "TooManyRequests" } }, 429, { "retry-after": "3" }) : n === 2 ? page({}, 503, { "retry-after": new Date(now + 2000).toUTCString() }) : page({ value: [], "@odata.deltaLink": `${endpoint}/v1.0/users/delta?$deltatoken=x` }),
    );
    const result = await reader.readPage("users", { kind: "initial" });
    assert.equal(result.deltaLink, `${endpoint}/v1.0/users/delta?$deltatoken=x`);
    assert.equal(metrics.throttled, 1);
    assert.equal(sleeps[0], 3000);
    assert.ok(sleeps[1]! >= 1000 && sleeps[1]! <= 2000, String(sleeps[1]));
  });

  test("retries are bounded and the failure names the request", async () => {
    const { reader, requests } = scripted(() => page({ error: { code: "TooManyRequests", message: "slow down" } }, 429, { "retry-after": "1" }));
    await assert.rejects(reader.readPage("groups", { kind: "initial" }), (error: unknown) => error instanceof GraphRequestError && /^GET https:\/\/graph\.example\.test\/v1\.0\/groups\/delta\?… answered 429 TooManyRequests after 4 attempts: slow down$/.test(error.message));
    assert.equal(requests(), 4);
  });

  test("410 and 400 syncStateNotFound mean the token is no longer valid", async () => {
    const gone = scripted(() => page({ error: { code: "resyncRequired" } }, 410, { location: `${endpoint}/v1.0/users/delta?$select=id` }));
    await assert.rejects(gone.reader.readPage("users", { kind: "link", url: `${endpoint}/v1.0/users/delta?$deltatoken=old` }), (error: unknown) => error instanceof DeltaTokenExpiredError && error.freshQueryUrl === `${endpoint}/v1.0/users/delta?$select=id`);
    const bad = scripted(() => page({ error: { code: "syncStateNotFound" } }, 400));
    await assert.rejects(bad.reader.readPage("users", { kind: "link", url: `${endpoint}/v1.0/users/delta?$deltatoken=old` }), DeltaTokenExpiredError);
    const other = scripted(() => page({ error: { code: "BadRequest", message: "nope" } }, 400));
    await assert.rejects(other.reader.readPage("users", { kind: "initial" }), (error: unknown) => error instanceof GraphRequestError && !(error instanceof DeltaTokenExpiredError));
  });

  /** A server-side 10-second window of 1-unit requests that refuses past the quota and, if asked, reports usage above 80 %. */
  function quotaServer(quota: number, reportUsage: boolean) {
    const served: number[] = [];
    return (_: number, now: number) => {
      const recent = served.filter((at) => now - at < 10_000);
      if (recent.length + 1 > quota) return page({ error: { code: "TooManyRequests" } }, 429, { "retry-after": "10" });
      served.push(now);
      const used = (recent.length + 1) / quota;
      const usage: Record<string, string> = reportUsage && used > 0.8 ? { "x-ms-resource-unit": "1", "x-ms-throttle-limit-percentage": used.toFixed(1) } : {};
      return page({ value: [], "@odata.nextLink": `${endpoint}/v1.0/users/delta?$skiptoken=x` }, 200, usage);
    };
  }

  test("once Graph reports usage near the quota, requests are paced under it instead of being throttled", async () => {
    const { reader, metrics } = scripted(quotaServer(10, true));
    for (let i = 0; i < 100; i++) await reader.readPage("users", { kind: "link", url: `${endpoint}/v1.0/users/delta?$skiptoken=x` });
    assert.equal(metrics.throttled, 0, "the usage header was enough to stay under the quota");
    assert.ok(metrics.waitedMs > 0);
  });

  test("after a first 429 the reader learns the quota and later requests stay under it", async () => {
    const { reader, metrics } = scripted(quotaServer(10, false));
    for (let i = 0; i < 200; i++) await reader.readPage("users", { kind: "link", url: `${endpoint}/v1.0/users/delta?$skiptoken=x` });
    assert.equal(metrics.throttled, 1, "one 429 to learn from, then none");
    assert.ok(metrics.throttled / metrics.requests < 0.01);
  });
});
