// Refuses every Graph token issued for another tenant than the run's, so no credential can sync one directory under another's tables.
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { SyncError } from "../errors/syncError";

/** How the token was obtained, which decides the likely cause of a mismatch. */
export type TokenSource = "managedIdentity" | "federatedCredential" | "clientSecret" | "certificate" | "azureCli" | "deviceCode" | "developer";

export interface TenantGuardOptions {
  tenantId: string;
  source: TokenSource;
}

/** The `tid` claim of a JWT access token; undefined when the token is not a JWT (opaque tokens carry no claims to check). */
export function tokenTenantOf(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const tid = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { tid?: unknown }).tid;
    return typeof tid === "string" ? tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** One line naming both tenants and what to change. */
export function tenantMismatchError(expected: string, actual: string, source: TokenSource): SyncError {
  const message = `The Microsoft Graph token is for tenant ${actual}, but this run is for tenant ${expected}; reading with it would copy tenant ${actual}'s directory under tenant ${expected}, so nothing was read.`;
  const fix: Record<TokenSource, string> = {
    managedIdentity:
      `A managed identity belongs to its own tenant (${actual}) and reads only that directory. To sync tenant ${expected}, set ENTRA_CREDENTIAL_MODE=federatedCredential with an app registration of tenant ${expected} that trusts this identity (docs/permissions.md), or correct ENTRA_TENANT_ID.`,
    federatedCredential: `The app registration ENTRA_CLIENT_ID signed in to tenant ${actual}: check ENTRA_TENANT_ID and that the app is consented in tenant ${expected}.`,
    clientSecret: `Check ENTRA_TENANT_ID and AUTHORITY_HOST: the app signed in to tenant ${actual}.`,
    certificate: `Check ENTRA_TENANT_ID and AUTHORITY_HOST: the app signed in to tenant ${actual}.`,
    azureCli: `The Azure CLI is signed in to tenant ${actual}: run az login --tenant ${expected}, or pick the tenant with --tenant.`,
    deviceCode: `You signed in with an account of tenant ${actual}: sign in again with an account of tenant ${expected} (a guest account there works).`,
    developer: `Your developer sign-in is for tenant ${actual}: run az login --tenant ${expected} (or sign in to tenant ${expected} in your tool).`,
  };
  return new SyncError("tenant.mismatch", message, { fix: fix[source] });
}

/** Wraps a credential: every token whose `tid` is another tenant fails with tenant.mismatch instead of being used. */
export class TenantGuardedCredential implements TokenCredential {
  constructor(
    private readonly inner: TokenCredential,
    private readonly options: TenantGuardOptions,
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = await this.inner.getToken(scopes, options);
    if (token) this.check(token.token);
    return token;
  }

  /** Gets a token for Graph and checks it, so a run fails before it reads anything. */
  async verify(graphEndpoint: string): Promise<void> {
    await this.getToken(`${graphEndpoint}/.default`);
  }

  private check(token: string): void {
    const actual = tokenTenantOf(token);
    const expected = this.options.tenantId.toLowerCase();
    if (actual !== undefined && actual !== expected) throw tenantMismatchError(expected, actual, this.options.source);
  }
}
