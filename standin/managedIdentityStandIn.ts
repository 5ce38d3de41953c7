// A local App Service-style managed identity endpoint (IDENTITY_ENDPOINT + X-IDENTITY-HEADER over http on 127.0.0.1) issuing tokens signed by the Entra stand-in.
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { GraphStandIn } from "./graphStandIn";
import { keyVaultAudiences, storageAudiences } from "./tokenIssuer";

export interface ManagedIdentity {
  /** Client id of the identity (what MANAGED_IDENTITY_CLIENT_ID holds). */
  clientId: string;
  /** Object (principal) id: the `oid` and `sub` of its tokens, and the subject of a federated credential that trusts it. Default: random. */
  principalId?: string;
  /** Home tenant of the identity; default the Entra stand-in's tenant. */
  tenantId?: string;
  /** Graph application permissions granted to the identity's service principal. */
  roles?: string[];
  /** Azure resource id, for requests that name the identity by mi_res_id. */
  resourceId?: string;
}

export interface ManagedIdentityStandInOptions {
  /** Signs the tokens, so the Graph, token-endpoint and Key Vault stand-ins accept them. */
  entra: GraphStandIn;
  /** User-assigned identities attached to the "app". */
  identities?: ManagedIdentity[];
  /** The system-assigned identity, used when a request names none. */
  systemAssigned?: ManagedIdentity;
  port?: number;
}

export interface IdentityRequest {
  method: string;
  url: string;
  status: number;
  at: number;
  resource: string | undefined;
  /** client_id, principal_id/object_id or mi_res_id as sent. */
  identity: string | undefined;
}

/** The App Service identity protocol version MSAL and the docs use ("managed identity for App Service", REST endpoint reference). */
const apiVersion = "2019-08-01";
/** Audiences of the managed identity token that a federated credential expects, per cloud (workload-identity-federation-config-app-trust-managed-identity). */
export const tokenExchangeAudiences = ["api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov", "api://AzureADTokenExchangeChina"];
/** Entra issues managed identity tokens for a day; the exact lifetime is the platform's choice. */
const tokenLifetimeSeconds = 86_400;

export class ManagedIdentityStandIn {
  /** The IDENTITY_ENDPOINT value: http://127.0.0.1:{port}/msi/token, as App Service serves it on the loopback interface. */
  readonly endpoint: string;
  /** The IDENTITY_HEADER value; requests must echo it in X-IDENTITY-HEADER (SSRF protection). */
  readonly header = randomUUID();
  readonly requests: IdentityRequest[] = [];
  /** Requests to any other path, method or protocol version, to see what a client sent. */
  readonly unknownRequests: IdentityRequest[] = [];
  private readonly identities: ManagedIdentity[];
  private readonly systemAssigned: ManagedIdentity | undefined;

  private constructor(
    endpoint: string,
    private readonly server: http.Server,
    private readonly entra: GraphStandIn,
    options: ManagedIdentityStandInOptions,
  ) {
    this.endpoint = endpoint;
    this.identities = (options.identities ?? []).map((identity) => withPrincipal(identity));
    this.systemAssigned = options.systemAssigned ? withPrincipal(options.systemAssigned) : undefined;
  }

  static async start(options: ManagedIdentityStandInOptions): Promise<ManagedIdentityStandIn> {
    let standIn: ManagedIdentityStandIn | undefined;
    const server = http.createServer((request, response) => {
      if (standIn) standIn.handle(request, response);
      else response.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    standIn = new ManagedIdentityStandIn(`http://127.0.0.1:${port}/msi/token`, server, options.entra, options);
    return standIn;
  }

  /** The two variables App Service sets; @azure/identity (MSAL) picks the App Service source when both are present. */
  environment(): { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string } {
    return { IDENTITY_ENDPOINT: this.endpoint, IDENTITY_HEADER: this.header };
  }

  /** Sets IDENTITY_ENDPOINT/IDENTITY_HEADER here and returns their restorer; MSAL fixes the source once per process, so one stand-in per test file. */
  useInProcess(): () => void {
    const saved = { IDENTITY_ENDPOINT: process.env["IDENTITY_ENDPOINT"], IDENTITY_HEADER: process.env["IDENTITY_HEADER"] };
    Object.assign(process.env, this.environment());
    return () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    };
  }

  /** The identity with this client id, with its principal id filled in. */
  identity(clientId: string): ManagedIdentity {
    const found = [...this.identities, ...(this.systemAssigned ? [this.systemAssigned] : [])].find((candidate) => candidate.clientId.toLowerCase() === clientId.toLowerCase());
    if (!found) throw new Error(`No managed identity ${clientId} in the stand-in`);
    return found;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? "/", this.endpoint);
    const params = url.searchParams;
    const named = params.get("client_id") ?? params.get("principal_id") ?? params.get("object_id") ?? params.get("mi_res_id") ?? undefined;
    const reply = this.route(request, url);
    const record: IdentityRequest = { method: request.method ?? "GET", url: request.url ?? "/", status: reply.status, at: Date.now(), resource: params.get("resource") ?? undefined, identity: named };
    this.requests.push(record);
    if (!reply.known) this.unknownRequests.push(record);
    const text = JSON.stringify(reply.body);
    response.writeHead(reply.status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
    response.end(text);
  }

  private route(request: http.IncomingMessage, url: URL): { status: number; body: Record<string, unknown>; known: boolean } {
    if (url.pathname !== "/msi/token" || request.method !== "GET") return { status: 404, body: failure(404, `The stand-in does not serve ${request.method} ${url.pathname}.`), known: false };
    const params = url.searchParams;
    if (params.get("api-version") !== apiVersion) return { status: 400, body: failure(400, `Unsupported api-version '${params.get("api-version") ?? ""}'; use ${apiVersion}.`), known: false };
    if (request.headers["x-identity-header"] !== this.header) return { status: 401, body: failure(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER."), known: true };
    const resource = params.get("resource");
    if (!resource) return { status: 400, body: failure(400, "The resource parameter is required."), known: true };
    const selectors = ["client_id", "principal_id", "object_id", "mi_res_id"].filter((name) => params.has(name));
    if (selectors.length > 1) return { status: 400, body: failure(400, `Only one of client_id, principal_id, object_id and mi_res_id may be given; got ${selectors.join(", ")}.`), known: true };
    const identity = this.select(params);
    if (!identity) {
      const message = selectors.length === 0 ? "No system-assigned managed identity is enabled on this app." : "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.";
      return { status: 400, body: failure(400, message), known: true };
    }
    const audience = resource.replace(/\/+$/, "");
    const tenantId = identity.tenantId ?? this.entra.tenantId;
    const subject = { appId: identity.clientId, objectId: identity.principalId as string, tenantId, roles: [] as string[] };
    let token: string;
    if (tokenExchangeAudiences.includes(audience)) {
      token = this.entra.issueAccessToken(subject, audience, "2.0");
    } else if (this.entra.graphAudiences().includes(audience)) {
      token = this.entra.issueAccessToken({ ...subject, roles: identity.roles ?? [] }, audience);
    } else if ([...keyVaultAudiences, ...storageAudiences].includes(audience)) {
      token = this.entra.issueAccessToken(subject, audience);
    } else {
      return { status: 400, body: failure(400, `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantId}.`), known: true };
    }
    const expiresOn = Math.floor(Date.now() / 1000) + tokenLifetimeSeconds;
    return { status: 200, body: { access_token: token, expires_on: String(expiresOn), resource, token_type: "Bearer", client_id: identity.clientId }, known: true };
  }

  private select(params: URLSearchParams): ManagedIdentity | undefined {
    const clientId = params.get("client_id");
    const principalId = params.get("principal_id") ?? params.get("object_id");
    const resourceId = params.get("mi_res_id");
    if (clientId) return this.identities.find((identity) => identity.clientId.toLowerCase() === clientId.toLowerCase());
    if (principalId) return this.identities.find((identity) => identity.principalId?.toLowerCase() === principalId.toLowerCase());
    if (resourceId) return this.identities.find((identity) => identity.resourceId?.toLowerCase() === resourceId.toLowerCase());
    return this.systemAssigned;
  }
}

function withPrincipal(identity: ManagedIdentity): ManagedIdentity {
  return { ...identity, principalId: identity.principalId ?? randomUUID() };
}

/** The error body App Service's identity endpoint answers with (statusCode, message, correlationId). */
function failure(statusCode: number, message: string): Record<string, unknown> {
  return { statusCode, message, correlationId: randomUUID() };
}
