// The stand-in's device authorization grant (v2-oauth2-device-code): /devicecode hands out codes, the token endpoint answers authorization_pending until a test approves one.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { TokenEndpointResponse, TokenIssuer } from "./tokenIssuer";

/** The documented grant type, and the short form MSAL sends (Constants.GrantType.DEVICE_CODE_GRANT), which Entra accepts too. */
export const deviceCodeGrantTypes = ["urn:ietf:params:oauth:grant-type:device_code", "device_code"];

/** Public clients the stand-in knows, as first-party apps exist in every tenant: Microsoft Graph Command Line Tools and the Azure CLI. */
export const knownPublicClients = ["14d82eec-204b-4c2f-b7e8-296a70dab67e", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"];

/** "From the moment the request is sent, the user has 15 minutes to sign in. This is the default value for expires_in." */
const defaultExpiresInSeconds = 900;
/** Entra answers interval 5; tests set less, since MSAL waits that long after each authorization_pending. */
const defaultIntervalSeconds = 5;
/** User codes as Entra shows them: upper-case letters and digits, nine of them. */
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/** Scopes MSAL adds to every request; the token endpoint lists the granted OIDC ones in `scope`. */
const oidcScopes = new Set(["openid", "profile", "offline_access", "email"]);

/** Who signs in at the verification page, and what the token then carries. */
export interface DeviceSignIn {
  upn: string;
  /** Delegated permissions, space-separated, as `scp`. */
  scp: string;
  /** The signed-in user's home tenant for the token's `tid`; default the tenant the code was asked for. */
  tenantId?: string;
  objectId?: string;
}

/** One device authorization as the test sees it. */
export interface DeviceAuthorization {
  userCode: string;
  clientId: string;
  tenant: string;
  scope: string;
  state: "pending" | "approved" | "declined" | "expired" | "redeemed";
}

interface StoredAuthorization extends DeviceAuthorization {
  deviceCode: string;
  expiresAt: number;
  signIn?: DeviceSignIn;
}

export interface DeviceCodeGrantOptions {
  intervalSeconds?: number;
  expiresInSeconds?: number;
}

export class DeviceCodeGrant {
  private readonly byDeviceCode = new Map<string, StoredAuthorization>();
  private readonly refreshTokens = new Map<string, { clientId: string; scope: string; tenant: string; signIn: DeviceSignIn }>();
  private readonly intervalSeconds: number;
  private readonly expiresInSeconds: number;

  constructor(
    private readonly issuer: TokenIssuer,
    private readonly lifetimeSeconds: number,
    options: DeviceCodeGrantOptions = {},
  ) {
    this.intervalSeconds = options.intervalSeconds ?? defaultIntervalSeconds;
    this.expiresInSeconds = options.expiresInSeconds ?? defaultExpiresInSeconds;
  }

  /** Every authorization asked for so far, oldest first. */
  list(): DeviceAuthorization[] {
    return [...this.byDeviceCode.values()].map((found) => ({ userCode: found.userCode, clientId: found.clientId, tenant: found.tenant, scope: found.scope, state: isExpired(found) ? "expired" : found.state }));
  }

  /** The user entered the code and signed in: the next poll gets tokens. */
  approve(userCode: string, signIn: DeviceSignIn): void {
    const found = this.find(userCode);
    found.state = "approved";
    found.signIn = signIn;
  }

  /** The user declined at the verification page. */
  decline(userCode: string): void {
    this.find(userCode).state = "declined";
  }

  /** The code outlived expires_in. */
  expire(userCode: string): void {
    this.find(userCode).expiresAt = 0;
  }

  /** POST /{tenant}/oauth2/v2.0/devicecode: client_id and scope in a form body. */
  start(tenant: string, form: URLSearchParams): TokenEndpointResponse {
    const tenantProblem = this.issuer.tenantProblem(tenant);
    if (tenantProblem) return tenantProblem;
    const clientId = form.get("client_id");
    if (!clientId) return this.issuer.error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.");
    if (!knownPublicClients.includes(clientId.toLowerCase())) {
      return this.issuer.error(400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    const scope = form.get("scope");
    if (!scope) return this.issuer.error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.");
    const authorization: StoredAuthorization = { userCode: newUserCode(), deviceCode: randomBytes(96).toString("base64url"), clientId: clientId.toLowerCase(), tenant: tenant.toLowerCase(), scope, state: "pending", expiresAt: Date.now() + this.expiresInSeconds * 1000 };
    this.byDeviceCode.set(authorization.deviceCode, authorization);
    const verificationUri = "https://microsoft.com/devicelogin";
    return {
      status: 200,
      body: {
        user_code: authorization.userCode,
        device_code: authorization.deviceCode,
        verification_uri: verificationUri,
        expires_in: this.expiresInSeconds,
        interval: this.intervalSeconds,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${authorization.userCode} to authenticate.`,
      },
    };
  }

  /** The token endpoint for grant_type device_code (polling) and refresh_token (a later silent request). */
  redeem(tenant: string, form: URLSearchParams): TokenEndpointResponse {
    const tenantProblem = this.issuer.tenantProblem(tenant);
    if (tenantProblem) return tenantProblem;
    if (form.get("grant_type") === "refresh_token") return this.refresh(form);
    const authorization = this.byDeviceCode.get(form.get("device_code") ?? "");
    if (!authorization || authorization.clientId !== (form.get("client_id") ?? "").toLowerCase() || authorization.state === "redeemed") {
      return this.issuer.error(400, "bad_verification_code", 70018, "The provided value for the input parameter 'device_code' is not valid.");
    }
    if (isExpired(authorization)) return this.issuer.error(400, "expired_token", 70019, "Verification code expired.");
    if (authorization.state === "declined") return this.issuer.error(400, "authorization_declined", 65004, "The user declined to authorize the request.");
    if (authorization.state !== "approved" || !authorization.signIn) return this.issuer.error(400, "authorization_pending", 70016, "The provided request has not yet been authorized by the user. The user must input their code.");
    authorization.state = "redeemed";
    return this.tokens({ clientId: authorization.clientId, scope: authorization.scope, tenant: authorization.tenant, signIn: authorization.signIn }, form);
  }

  private refresh(form: URLSearchParams): TokenEndpointResponse {
    const grant = this.refreshTokens.get(form.get("refresh_token") ?? "");
    if (!grant || grant.clientId !== (form.get("client_id") ?? "").toLowerCase()) return this.issuer.error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.");
    return this.tokens(grant, form);
  }

  /** The successful token response: access token (delegated, with scp and tid), refresh token, and, as MSAL asks, an ID token and client_info. */
  private tokens(grant: { clientId: string; scope: string; tenant: string; signIn: DeviceSignIn }, form: URLSearchParams): TokenEndpointResponse {
    const { clientId, signIn } = grant;
    const requested = grant.scope.split(/\s+/).filter((scope) => scope !== "");
    const resourceScope = requested.find((scope) => !oidcScopes.has(scope));
    const audience = this.issuer.graphAudienceList().find((candidate) => resourceScope === `${candidate}/.default`);
    if (audience === undefined) return this.issuer.error(400, "invalid_scope", 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${grant.scope} is not valid.`);
    const tenantId = (signIn.tenantId ?? grant.tenant).toLowerCase();
    const objectId = signIn.objectId ?? objectIdOf(signIn.upn);
    const accessToken = this.issuer.issueFor({ appId: clientId, objectId, tenantId, delegated: { scp: signIn.scp, upn: signIn.upn } }, audience);
    const refreshToken = randomBytes(48).toString("base64url");
    this.refreshTokens.set(refreshToken, grant);
    const granted = [...signIn.scp.split(" ").map((scope) => `${audience}/${scope}`), `${audience}/.default`, ...requested.filter((scope) => oidcScopes.has(scope) && scope !== "offline_access")];
    const now = Math.floor(Date.now() / 1000);
    return {
      status: 200,
      body: {
        token_type: "Bearer",
        scope: granted.join(" "),
        expires_in: this.lifetimeSeconds,
        ext_expires_in: this.lifetimeSeconds,
        access_token: accessToken,
        refresh_token: refreshToken,
        ...(requested.includes("openid") ? { id_token: unsignedIdToken({ aud: clientId, iss: `https://login.microsoftonline.com/${tenantId}/v2.0`, iat: now, nbf: now, exp: now + this.lifetimeSeconds, name: signIn.upn, oid: objectId, preferred_username: signIn.upn, sub: objectId, tid: tenantId, ver: "2.0" }) } : {}),
        ...(form.get("client_info") === "1" ? { client_info: Buffer.from(JSON.stringify({ uid: objectId, utid: tenantId })).toString("base64url") } : {}),
      },
    };
  }

  private find(userCode: string): StoredAuthorization {
    const found = [...this.byDeviceCode.values()].find((authorization) => authorization.userCode === userCode);
    if (!found) throw new Error(`No device authorization has the user code ${userCode}`);
    return found;
  }
}

function isExpired(authorization: StoredAuthorization): boolean {
  return authorization.state !== "redeemed" && Date.now() >= authorization.expiresAt;
}

function newUserCode(): string {
  return [...randomBytes(9)].map((byte) => userCodeAlphabet[byte % userCodeAlphabet.length]).join("");
}

/** A stable object id per user name, so a user signing in twice is the same account. */
function objectIdOf(upn: string): string {
  const hex = createHash("sha256").update(upn.toLowerCase()).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The ID token's claims as a JWT; clients read it, only Entra's own keys could verify it, and MSAL does not (remind-not-to-validate-access-tokens). */
function unsignedIdToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ typ: "JWT", alg: "RS256", kid: randomUUID() })}.${part(claims)}.${randomBytes(32).toString("base64url")}`;
}
