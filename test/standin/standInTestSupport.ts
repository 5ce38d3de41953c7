// Shared helpers for the stand-in tests: real SDK clients pointed at the stand-in, and a minimal delta consumer to compare with the model.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { Client, ResponseType } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials";
import { ensureStandInCertificate } from "../../standin/certificate";
import { GraphStandIn, type StandInOptions } from "../../standin/graphStandIn";
import type { DirectoryModel, MemberType } from "../../standin/directoryModel";

export const certDir = resolve(__dirname, "../../../.standin");
export const defaultClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };
export const graphScope = "https://graph.microsoft.com/.default";
export const allUserProperties = [
  "displayName", "givenName", "surname", "userPrincipalName", "mail", "accountEnabled", "userType", "jobTitle", "department", "employeeId",
] as const;
export const allGroupProperties = ["displayName", "description", "mail", "mailEnabled", "mailNickname", "securityEnabled", "groupTypes"] as const;

const { certPath } = ensureStandInCertificate(certDir);
// NODE_EXTRA_CA_CERTS is read once at process start, so a run without it cannot be repaired from here.
if (process.env["NODE_EXTRA_CA_CERTS"] !== certPath) {
  throw new Error(
    `The stand-in tests need NODE_EXTRA_CA_CERTS=${certPath} (got ${process.env["NODE_EXTRA_CA_CERTS"] ?? "nothing"}); ` +
      "run them through `node dist/test/support/runTests.js dist/test/standin`, which sets it",
  );
}

export async function startStandIn(options: Partial<StandInOptions> = {}): Promise<GraphStandIn> {
  return GraphStandIn.start({ certDir, ...options });
}

export function credentialFor(standIn: GraphStandIn, client = defaultClient): ClientSecretCredential {
  return new ClientSecretCredential(standIn.tenantId, client.clientId, client.clientSecret, {
    authorityHost: standIn.url,
    disableInstanceDiscovery: true,
  });
}

/** The real Graph SDK client, authenticated by the real ClientSecretCredential, as the product composes it. */
export function graphClientFor(standIn: GraphStandIn, client = defaultClient): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credentialFor(standIn, client), { scopes: [graphScope] }),
    baseUrl: standIn.url,
    customHosts: new Set(["localhost"]),
  });
}

export interface DeltaRound {
  objects: Array<Record<string, unknown>>;
  pages: Array<Record<string, unknown>>;
  deltaLink: string;
}

/** Follows @odata.nextLink from url until a page carries @odata.deltaLink. */
export async function readRound(client: Client, url: string): Promise<DeltaRound> {
  const pages: Array<Record<string, unknown>> = [];
  const objects: Array<Record<string, unknown>> = [];
  let next: string | undefined = url;
  for (let guard = 0; next !== undefined; guard++) {
    assert.ok(guard < 100_000, "delta round does not end");
    const page = (await client.api(next).get()) as Record<string, unknown>;
    pages.push(page);
    objects.push(...(page["value"] as Array<Record<string, unknown>>));
    if (typeof page["@odata.deltaLink"] === "string") return { objects, pages, deltaLink: page["@odata.deltaLink"] };
    next = page["@odata.nextLink"] as string | undefined;
    assert.equal(typeof next, "string", "a page without deltaLink must carry nextLink");
  }
  throw new Error("unreachable");
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** One GET through the Graph SDK without its error mapping, to see status, headers and body as sent. */
export async function rawGet(client: Client, url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const response = (await client.api(url).headers(headers).responseType(ResponseType.RAW).get()) as Response;
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A plain HTTPS request with global fetch, for requests the SDKs would not send (no token, forged token). */
export async function fetchJson(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export function decodeJwt(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  assert.ok(payload, "a JWT has three parts");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

export function errorCode(body: Record<string, unknown>): string | undefined {
  return (body["error"] as Record<string, unknown> | undefined)?.["code"] as string | undefined;
}

const odataTypes: Record<MemberType, string> = {
  user: "#microsoft.graph.user",
  group: "#microsoft.graph.group",
  device: "#microsoft.graph.device",
  servicePrincipal: "#microsoft.graph.servicePrincipal",
  orgContact: "#microsoft.graph.orgContact",
};

/** A minimal, correct delta consumer: merges updates, honours @removed, and accumulates members@delta parts. */
export class Replica {
  readonly users = new Map<string, Record<string, unknown>>();
  readonly groups = new Map<string, Record<string, unknown>>();
  readonly members = new Map<string, Map<string, string>>();

  applyUsers(objects: ReadonlyArray<Record<string, unknown>>): void {
    for (const object of objects) {
      const id = object["id"] as string;
      if (object["@removed"]) {
        this.users.delete(id);
        continue;
      }
      this.users.set(id, { ...this.users.get(id), ...object });
    }
  }

  applyGroups(objects: ReadonlyArray<Record<string, unknown>>): void {
    for (const object of objects) {
      const id = object["id"] as string;
      if (object["@removed"]) {
        this.groups.delete(id);
        this.members.delete(id);
        continue;
      }
      const { ["members@delta"]: delta, ...properties } = object;
      this.groups.set(id, { ...this.groups.get(id), ...properties });
      const edges = this.members.get(id) ?? new Map<string, string>();
      this.members.set(id, edges);
      for (const entry of (delta as Array<Record<string, unknown>> | undefined) ?? []) {
        if (entry["@removed"]) edges.delete(entry["id"] as string);
        else edges.set(entry["id"] as string, entry["@odata.type"] as string);
      }
    }
  }

  /** Asserts the replica holds exactly the model's live objects, their selected properties and the reported memberships. */
  assertMatches(model: DirectoryModel, membership: "kept" | "reportedRemoved" = "kept"): void {
    const liveUsers = [...model.users.values()].filter((user) => !user.deleted);
    assert.deepEqual([...this.users.keys()].sort(), liveUsers.map((user) => user.id).sort(), "live user ids");
    for (const user of liveUsers) {
      const stored = this.users.get(user.id) ?? {};
      for (const name of allUserProperties) assert.deepEqual(stored[name], user[name], `user ${user.id} ${name}`);
    }
    const liveGroups = [...model.groups.values()].filter((group) => !group.deleted);
    assert.deepEqual([...this.groups.keys()].sort(), liveGroups.map((group) => group.id).sort(), "live group ids");
    const softDeleted = (id: string) => model.users.get(id)?.deleted === true || model.groups.get(id)?.deleted === true;
    for (const group of liveGroups) {
      const stored = this.groups.get(group.id) ?? {};
      for (const name of allGroupProperties) assert.deepEqual(stored[name], group[name], `group ${group.id} ${name}`);
      const expected = [...(model.members.get(group.id) ?? [])]
        .filter(([memberId]) => membership === "kept" || !softDeleted(memberId))
        .map(([memberId, type]) => `${memberId} ${odataTypes[type]}`)
        .sort();
      const actual = [...(this.members.get(group.id) ?? [])].map(([memberId, type]) => `${memberId} ${type}`).sort();
      assert.deepEqual(actual, expected, `members of group ${group.id} (${group.displayName})`);
    }
  }
}

export const userSelect = allUserProperties.join(",");
export const groupSelect = `${allGroupProperties.join(",")},members`;
