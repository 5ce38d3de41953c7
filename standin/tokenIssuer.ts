// The stand-in's Entra token endpoint and OpenID discovery: issues and verifies client-credentials access tokens for Graph and Azure resources.
import { constants as cryptoConstants, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, verify as verifySignature, X509Certificate } from "node:crypto";

/** A trust from an app registration to tokens of another issuer (workload identity federation), as Graph's federatedIdentityCredential. */
export interface FederatedIdentityCredential {
  name?: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface RegisteredClient {
  clientId: string;
  /** The app's client secret; undefined for an app that has none. */
  clientSecret?: string;
  /** Further secrets valid at the same time, as an app holds during a rotation. */
  clientSecrets?: string[];
  /** Secrets the app once had whose end date has passed: Entra answers AADSTS7000222, not 7000215. */
  expiredSecrets?: string[];
  roles?: string[];
  /** PEM certificates (public part) whose private keys may sign client assertions (x5t / x5t#S256). */
  certificates?: string[];
  /** Issuers whose tokens this app accepts as client assertions (workload identity federation). */
  federatedCredentials?: FederatedIdentityCredential[];
}

/** Who an access token is for when the issuer signs one outside the token endpoint (managed identities). */
export interface TokenSubject {
  appId: string;
  objectId: string;
  tenantId: string;
  roles?: string[];
  displayName?: string;
  /** Delegated scopes and the user's name: makes it a user's token (as `az account get-access-token` returns) instead of an app's. */
  delegated?: { scp: string; upn: string };
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
  oid: string;
  sub: string;
  roles: string[];
  /** Delegated scopes, space-separated, in a token issued to a signed-in user. */
  scp?: string;
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
/** Key Vault and Storage as audiences (resource URIs and first-party app ids), for tokens the vault stand-in and check accept. */
export const keyVaultAudiences = ["https://vault.azure.net", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"];
export const storageAudiences = ["https://storage.azure.com", "e406a681-f3d4-42a8-90b6-c2b029497af1"];
/** Algorithms Entra accepts on certificate-signed client assertions (certificate-credentials). */
const assertionAlgorithms = new Set(["RS256", "PS256"]);
/** Clock skew Entra tolerates on assertion lifetimes; five minutes is the usual allowance. */
const clockSkewSeconds = 300;
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
  /** App registrations by lower-cased client id; tests change them at run time (rotate a secret, add a certificate). */
  private readonly clients = new Map<string, RegisteredClient>();
  /** Other tenants where every registered app is consented (a multi-tenant app): tokens for them carry their tid. */
  private readonly otherTenants = new Set<string>();

  constructor(
    private readonly baseUrl: string,
    private readonly tenantId: string,
    clients: readonly RegisteredClient[],
    private readonly lifetimeSeconds: number,
  ) {
    for (const client of clients) this.registerClient(client);
  }

  /** Adds or replaces an app registration. */
  registerClient(client: RegisteredClient): void {
    this.clients.set(client.clientId.toLowerCase(), structuredClone(client));
  }

  /** Changes part of a registration, e.g. `{ clientSecrets: [newSecret] }` to revoke the old secret. */
  updateClient(clientId: string, changes: Partial<Omit<RegisteredClient, "clientId">>): void {
    const current = this.clients.get(clientId.toLowerCase());
    if (!current) throw new Error(`updateClient: no client ${clientId} is registered`);
    this.clients.set(clientId.toLowerCase(), { ...current, ...structuredClone(changes) });
  }

  /** Makes the token endpoint and discovery answer for another tenant too, issuing tokens whose tid is that tenant. */
  addTenant(tenantId: string): void {
    this.otherTenants.add(tenantId.toLowerCase());
  }

  /** Whether discovery and the token endpoint serve this tenant; else the Entra error a real authority gives for it. */
  tenantProblem(tenant: string): TokenEndpointResponse | undefined {
    const lower = tenant.toLowerCase();
    if (lower === this.tenantId || this.otherTenants.has(lower)) return undefined;
    // A GUID or a domain name is a well-formed tenant that does not exist; anything else is not a tenant identifier at all.
    if (!/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(tenant) && !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(tenant)) {
      return this.error(400, "invalid_request", 900023, `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`);
    }
    return this.error(400, "invalid_tenant", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
  }

  removeClient(clientId: string): void {
    this.clients.delete(clientId.toLowerCase());
  }

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
    const tenantProblem = this.tenantProblem(tenant);
    if (tenantProblem) return tenantProblem;
    const issuingTenant = tenant.toLowerCase();
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
    const client = this.clients.get(clientId.toLowerCase());
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
      const rejected = this.checkAssertion(client, tenant, assertion ?? "");
      if (rejected) return rejected;
    } else if (clientSecret === undefined) {
      return this.error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    } else if ((client.expiredSecrets ?? []).includes(clientSecret)) {
      return this.error(
        401,
        "invalid_client",
        7000222,
        `The provided client secret keys for app '${client.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    } else if (!acceptedSecrets(client).includes(clientSecret)) {
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
        access_token: this.issue(client, audience, undefined, issuingTenant),
      },
    };
  }

  /** A v1.0-shaped Graph access token (as Entra issues for client credentials), HMAC-SHA256 signed. */
  issue(client: RegisteredClient, audience: string = graphAudiences[0] as string, now: number = Math.floor(Date.now() / 1000), tenantId: string = this.tenantId): string {
    // App roles of Graph belong in Graph tokens only; a Key Vault token carries none.
    const roles = this.graphAudienceList().includes(audience) ? client.roles : [];
    return this.issueFor({ appId: client.clientId, objectId: client.clientId, tenantId, roles }, audience, "1.0", now);
  }

  /** A token for any subject: v1.0 as Graph and Key Vault receive, or v2.0 as a managed identity's api://AzureADTokenExchange token (sub = object id). */
  issueFor(subject: TokenSubject, audience: string, version: "1.0" | "2.0" = "1.0", now: number = Math.floor(Date.now() / 1000)): string {
    const header = { typ: "JWT", alg: "HS256", kid: this.keyId };
    const common = { aud: audience, iat: now, nbf: now, exp: now + this.lifetimeSeconds, oid: subject.objectId, sub: subject.objectId, tid: subject.tenantId, uti: randomBytes(16).toString("base64url"), idtyp: "app" };
    const payload =
      version === "2.0"
        ? { ...common, iss: `https://login.microsoftonline.com/${subject.tenantId}/v2.0`, azp: subject.appId, azpacr: "2", ver: "2.0" }
        : {
            ...common,
            iss: `https://sts.windows.net/${subject.tenantId}/`,
            aio: randomBytes(16).toString("base64url"),
            app_displayname: subject.displayName ?? "Graph stand-in client",
            appid: subject.appId,
            azp: subject.appId,
            appidacr: "1",
            idp: `https://sts.windows.net/${subject.tenantId}/`,
            ...(subject.delegated ? { scp: subject.delegated.scp, upn: subject.delegated.upn, name: subject.delegated.upn, idtyp: "user" } : { roles: [...(subject.roles ?? [])] }),
            ver: "1.0",
          };
    const signingInput = `${base64UrlJson(header)}.${base64UrlJson(payload)}`;
    return `${signingInput}.${this.sign(signingInput)}`;
  }

  /** Checks signature, lifetime, audience and tenant, with the messages Graph's InvalidAuthenticationToken carries. */
  verify(token: string): TokenVerification {
    return this.verifyFor(token, { audiences: this.graphAudienceList() });
  }

  /** Verifies a token this issuer signed for one of the audiences; anyTenant accepts tokens of identities homed in other tenants. */
  verifyFor(token: string, options: { audiences: readonly string[]; anyTenant?: boolean }): TokenVerification {
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
    if (!options.audiences.includes(String(claims["aud"]))) return { ok: false, message: "Access token validation failure. Invalid audience." };
    if (!options.anyTenant && claims["tid"] !== this.tenantId) return { ok: false, message: "Access token validation failure. Invalid issuer." };
    return { ok: true, claims: claims as unknown as AccessTokenClaims };
  }

  /** Graph's identifiers, plus the stand-in's own URL: it is the Graph host here, as graph.microsoft.us is in US Government clouds. */
  graphAudienceList(): string[] {
    return [...graphAudiences, this.baseUrl];
  }

  /** Every resource the token endpoint issues tokens for: Graph, Key Vault and Storage. */
  private audiences(): string[] {
    return [...this.graphAudienceList(), ...keyVaultAudiences, ...storageAudiences];
  }

  /** Validates a client assertion: a certificate-signed JWT (iss = sub = client id), or a federated token from a trusted issuer. */
  private checkAssertion(client: RegisteredClient, tenant: string, assertion: string): TokenEndpointResponse | undefined {
    const parts = assertion.split(".");
    const header = decodeJwtPart(parts[0] ?? "");
    const claims = decodeJwtPart(parts[1] ?? "");
    if (parts.length !== 3 || !header || !claims) return this.error(401, "invalid_client", 50027, "JWT token is invalid or malformed.");
    const certificates = client.certificates ?? [];
    const federated = client.federatedCredentials ?? [];
    const selfIssued = claims["iss"] === client.clientId && claims["sub"] === client.clientId;
    // A client registered with neither certificates nor federated credentials keeps the stand-in's first, issuer-and-subject-only check.
    if (certificates.length === 0 && federated.length === 0) {
      return selfIssued ? undefined : this.mismatchedClient();
    }
    const lifetime = assertionLifetimeProblem(claims);
    if (selfIssued) {
      const found = this.findCertificate(certificates, header);
      if (!found.certificate) {
        return this.error(
          401,
          "invalid_client",
          700027,
          `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${found.thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${client.clientId}'.]`,
        );
      }
      const algorithm = String(header["alg"]);
      if (!assertionAlgorithms.has(algorithm) || !rsaSignatureValid(algorithm, `${parts[0]}.${parts[1]}`, parts[2] as string, found.certificate)) {
        return this.error(401, "invalid_client", 700027, `Client assertion contains an invalid signature. [Reason - The key was found, but the signature (${algorithm}) does not verify with it., Thumbprint of key used by client: '${found.thumbprint}']`);
      }
      const endpoints = [`${this.baseUrl}/${tenant}/oauth2/v2.0/token`, `${this.baseUrl}/${tenant}/oauth2/token`];
      if (!endpoints.includes(String(claims["aud"]))) {
        return this.error(401, "invalid_client", 700023, `Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Audience: '${String(claims["aud"])}'.`);
      }
      if (lifetime) return this.error(401, "invalid_client", 700024, lifetime);
      return undefined;
    }
    const trusted = this.verifyFor(assertion, { audiences: [String(claims["aud"])], anyTenant: true });
    if (!trusted.ok) return this.error(401, "invalid_client", 700027, `Client assertion failed signature validation: ${trusted.message}`);
    if (lifetime) return this.error(401, "invalid_client", 700024, lifetime);
    const issuer = String(claims["iss"]);
    const subject = String(claims["sub"]);
    const audience = String(claims["aud"]);
    const match = federated.find((credential) => credential.issuer === issuer && credential.subject === subject && credential.audiences.includes(audience));
    if (!match) {
      return this.error(
        401,
        "invalid_client",
        70021,
        `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
      );
    }
    return undefined;
  }

  private mismatchedClient(): TokenEndpointResponse {
    return this.error(401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
  }

  /** The registered certificate the assertion header names by x5t#S256 (SHA-256) or x5t (SHA-1) thumbprint. */
  private findCertificate(certificates: readonly string[], header: Record<string, unknown>): { certificate: X509Certificate | undefined; thumbprint: string } {
    const sha256 = typeof header["x5t#S256"] === "string" ? header["x5t#S256"] : undefined;
    const sha1 = typeof header["x5t"] === "string" ? header["x5t"] : undefined;
    for (const pem of certificates) {
      const certificate = new X509Certificate(pem);
      if (sha256 !== undefined && createHash("sha256").update(certificate.raw).digest("base64url") === sha256) return { certificate, thumbprint: sha256 };
      if (sha1 !== undefined && createHash("sha1").update(certificate.raw).digest("base64url") === sha1) return { certificate, thumbprint: sha1 };
    }
    const shown = sha256 ?? sha1;
    return { certificate: undefined, thumbprint: shown === undefined ? "(none: the header has neither x5t nor x5t#S256)" : Buffer.from(shown, "base64url").toString("hex").toUpperCase() };
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

function acceptedSecrets(client: RegisteredClient): string[] {
  return [...(client.clientSecret === undefined ? [] : [client.clientSecret]), ...(client.clientSecrets ?? [])];
}

/** Why an assertion is outside its lifetime (exp, nbf), in the words of AADSTS700024; undefined when it is valid now. */
function assertionLifetimeProblem(claims: Record<string, unknown>): string | undefined {
  const now = Math.floor(Date.now() / 1000);
  const exp = typeof claims["exp"] === "number" ? claims["exp"] : undefined;
  const nbf = typeof claims["nbf"] === "number" ? claims["nbf"] : undefined;
  if (exp !== undefined && exp + clockSkewSeconds > now && (nbf === undefined || nbf - clockSkewSeconds <= now)) return undefined;
  const when = (seconds: number | undefined) => (seconds === undefined ? "(none)" : entraTimestamp(new Date(seconds * 1000)));
  return `Client assertion is not within its valid time range. Current time: ${when(now)}, assertion valid from ${when(nbf)}, expiry time of assertion ${when(exp)}.`;
}

/** RS256 (PKCS#1 v1.5) or PS256 (PSS, salt of digest length, as MSAL signs) over the JWT signing input. */
function rsaSignatureValid(algorithm: string, signingInput: string, signature: string, certificate: X509Certificate): boolean {
  const key = certificate.publicKey;
  const signatureBytes = Buffer.from(signature, "base64url");
  if (algorithm === "PS256") {
    return verifySignature("sha256", Buffer.from(signingInput), { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }, signatureBytes);
  }
  return verifySignature("sha256", Buffer.from(signingInput), key, signatureBytes);
}
