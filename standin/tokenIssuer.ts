// The stand-in's Entra token endpoint and OpenID discovery: issues and verifies client-credentials access tokens for Graph.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

export interface RegisteredClient {
  clientId: string;
  clientSecret: string;
  roles?: string[];
}

export interface ClientAssertionRecord {
  clientId: string;
  assertion: string;
  at: number;
}

/** Claims of an access token this issuer signed; Graph checks the roles. */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  azp: string;
  roles: string[];
  iat: number;
  nbf: number;
  exp: number;
}

export type TokenVerification =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; message: string };

export interface TokenEndpointResponse {
  status: number;
  body: Record<string, unknown>;
}

/** Microsoft Graph as an audience: its application ID URI and its well-known application id. */
const graphAudiences = ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Scopes MSAL adds to every request; the real endpoint ignores them for client credentials. */
const oidcScopes = new Set(["openid", "profile", "offline_access", "email"]);

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function decodeJwtPart(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** "2016-01-09 02:02:12Z", the timestamp format of Entra error bodies. */
function entraTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

export class TokenIssuer {
  /** Random per instance: tokens from another stand-in (or a restarted one) are rejected like forged ones. */
  private readonly signingKey = randomBytes(32);
  private readonly keyId = randomBytes(8).toString("hex");
  readonly clientAssertions: ClientAssertionRecord[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly tenantId: string,
    private readonly clients: readonly RegisteredClient[],
    private readonly lifetimeSeconds: number,
  ) {}

  /** The OpenID Provider Configuration Document of a v2.0 authority, pointing at the stand-in. */
  openIdConfiguration(tenant: string): Record<string, unknown> {
    const tenantSegment = tenant === this.tenantId ? this.tenantId : tenant;
    const issuerTenant = tenant === this.tenantId ? this.tenantId : "{tenantid}";
    const authority = `${this.baseUrl}/${tenantSegment}`;
    return {
      token_endpoint: `${authority}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${authority}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${this.baseUrl}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.baseUrl}/oidc/userinfo`,
      authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${authority}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
      claims_supported: [
        "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud",
        "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email",
      ],
      kerberos_endpoint: `${authority}/kerberos`,
      tenant_region_scope: "EU",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  }

  /** The signing keys document; empty because tokens are HMAC-signed and only this stand-in verifies them. */
  jwks(): Record<string, unknown> {
    return { keys: [] };
  }

  /** POST /{tenant}/oauth2/v2.0/token with a form body (and optionally HTTP Basic client authentication). */
  tokenRequest(tenant: string, form: URLSearchParams, authorization: string | undefined): TokenEndpointResponse {
    if (tenant !== this.tenantId) {
      return this.error(400, "invalid_request", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    }
    let clientId = form.get("client_id") ?? undefined;
    let clientSecret = form.get("client_secret") ?? undefined;
    if (authorization?.startsWith("Basic ")) {
      const decoded = Buffer.from(authorization.slice(6), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) {
        clientId ??= decodeURIComponent(decoded.slice(0, colon));
        clientSecret ??= decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    const grantType = form.get("grant_type");
    if (!grantType) return this.error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
    if (grantType !== "client_credentials") {
      return this.error(400, "unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grantType}'.`);
    }
    if (!clientId) return this.error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.");
    const client = this.clients.find((candidate) => candidate.clientId.toLowerCase() === clientId.toLowerCase());
    if (!client) {
      return this.error(
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${this.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const scope = form.get("scope");
    if (!scope) return this.error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.");
    const resourceScopes = scope.split(/\s+/).filter((item) => item !== "" && !oidcScopes.has(item));
    const audience = resourceScopes.length === 1 ? this.audiences().find((candidate) => resourceScopes[0] === `${candidate}/.default`) : undefined;
    if (audience === undefined) {
      return this.error(400, "invalid_scope", 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`);
    }

    const assertionType = form.get("client_assertion_type");
    const assertion = form.get("client_assertion");
    if (assertion !== null || assertionType !== null) {
      if (assertionType !== clientAssertionType) {
        return this.error(400, "invalid_request", 50027, `Invalid client_assertion_type '${assertionType ?? ""}'; expected '${clientAssertionType}'.`);
      }
      this.clientAssertions.push({ clientId: client.clientId, assertion: assertion ?? "", at: Date.now() });
      // Only the subject and issuer are checked for now; signature and audience checks come later.
      const claims = decodeJwtPart((assertion ?? "").split(".")[1] ?? "");
      if (!claims || claims["sub"] !== client.clientId || claims["iss"] !== client.clientId) {
        return this.error(401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
      }
    } else if (clientSecret === undefined) {
      return this.error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    } else if (clientSecret !== client.clientSecret) {
      return this.error(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
      );
    }
    return {
      status: 200,
      body: {
        token_type: "Bearer",
        expires_in: this.lifetimeSeconds,
        ext_expires_in: this.lifetimeSeconds,
        access_token: this.issue(client, audience),
      },
    };
  }

  /** A v1.0-shaped Graph access token (as Entra issues for client credentials), HMAC-SHA256 signed. */
  issue(client: RegisteredClient, audience: string = graphAudiences[0] as string, now: number = Math.floor(Date.now() / 1000)): string {
    const header = { typ: "JWT", alg: "HS256", kid: this.keyId };
    const payload = {
      aud: audience,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + this.lifetimeSeconds,
      aio: randomBytes(16).toString("base64url"),
      app_displayname: "Graph stand-in client",
      appid: client.clientId,
      azp: client.clientId,
      appidacr: "1",
      idp: `https://sts.windows.net/${this.tenantId}/`,
      idtyp: "app",
      oid: client.clientId,
      roles: [...(client.roles ?? [])],
      sub: client.clientId,
      tid: this.tenantId,
      uti: randomBytes(16).toString("base64url"),
      ver: "1.0",
    };
    const signingInput = `${base64UrlJson(header)}.${base64UrlJson(payload)}`;
    return `${signingInput}.${this.sign(signingInput)}`;
  }

  /** Checks signature, lifetime, audience and tenant, with the messages Graph's InvalidAuthenticationToken carries. */
  verify(token: string): TokenVerification {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, message: "CompactToken parsing failed with error code: 80049217" };
    const [headerPart, payloadPart, signature] = parts as [string, string, string];
    const header = decodeJwtPart(headerPart);
    const claims = decodeJwtPart(payloadPart);
    if (!header || !claims) return { ok: false, message: "CompactToken parsing failed with error code: 80049217" };
    const expected = Buffer.from(this.sign(`${headerPart}.${payloadPart}`));
    const actual = Buffer.from(signature);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      return { ok: false, message: "Access token validation failure. Invalid signature." };
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims["exp"] !== "number" || claims["exp"] <= now) return { ok: false, message: "Lifetime validation failed, the token is expired." };
    if (typeof claims["nbf"] === "number" && claims["nbf"] > now + 300) return { ok: false, message: "Lifetime validation failed, the token is not yet valid." };
    if (!this.audiences().includes(String(claims["aud"]))) return { ok: false, message: "Access token validation failure. Invalid audience." };
    if (claims["tid"] !== this.tenantId) return { ok: false, message: "Access token validation failure. Invalid issuer." };
    return { ok: true, claims: claims as unknown as AccessTokenClaims };
  }

  /** Graph's identifiers, plus the stand-in's own URL: it is the Graph host here, as graph.microsoft.us is in US Government clouds. */
  private audiences(): string[] {
    return [...graphAudiences, this.baseUrl];
  }

  private sign(input: string): string {
    return createHmac("sha256", this.signingKey).update(input).digest("base64url");
  }

  /** An Entra error body: error, error_description with trace and correlation ids, error_codes, timestamp. */
  error(status: number, error: string, code: number, message: string): TokenEndpointResponse {
    const now = new Date();
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = entraTimestamp(now);
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.baseUrl}/error?code=${code}`,
      },
    };
  }
}
