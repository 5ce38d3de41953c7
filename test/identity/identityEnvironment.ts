// Starts Azurite, the Graph/Entra stand-in, the managed identity endpoint and Key Vault, and registers the identities and apps each credential mode signs in as.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Settings } from "../../src/config/settings";
import { KeyVaultStandIn } from "../../standin/keyVaultStandIn";
import { ManagedIdentityStandIn } from "../../standin/managedIdentityStandIn";
import type { DirectoryModel } from "../../standin/directoryModel";
import { certDir, startEnvironment, type TestEnvironment } from "../support/testEnvironment";

/** The least-privilege Graph permissions the sync needs. */
export const syncRoles = ["User.Read.All", "GroupMember.Read.All"];

/** Client ids of the identities and apps; readable so a failing assertion says which one it was. */
export const ids = {
  /** The Function App's user-assigned managed identity (MANAGED_IDENTITY_CLIENT_ID). */
  appIdentity: "a0000000-0000-4000-8000-00000000000a",
  /** A managed identity granted only User.Read.All. */
  narrowIdentity: "a0000000-0000-4000-8000-00000000000b",
  /** A managed identity granted Directory.Read.All on top of what is needed. */
  broadIdentity: "a0000000-0000-4000-8000-00000000000c",
  /** A managed identity homed in another tenant, for federation across tenants. */
  foreignIdentity: "a0000000-0000-4000-8000-00000000000d",
  foreignTenant: "f0000000-0000-4000-8000-0000000000f0",
  secretApp: "b0000000-0000-4000-8000-0000000000b1",
  certificateApp: "b0000000-0000-4000-8000-0000000000b2",
  federatedApp: "b0000000-0000-4000-8000-0000000000b3",
  /** An app whose federated credential trusts some other identity: its exchange must fail with AADSTS70021. */
  untrustingApp: "b0000000-0000-4000-8000-0000000000b4",
  crossTenantApp: "b0000000-0000-4000-8000-0000000000b5",
};

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** What Key Vault returns for a certificate's secret: the private key and the certificate, PEM. */
  combinedPem: string;
}

export interface IdentityEnvironment {
  env: TestEnvironment;
  identity: ManagedIdentityStandIn;
  vault: KeyVaultStandIn;
  certificate: TestCertificate;
  /** The client secret the secret app starts with (also stored in the vault by tests that need it). */
  initialSecret: string;
  /** App settings for a mode; Key Vault settings point at the vault stand-in. */
  settings(extra?: Record<string, string>): Settings;
  /** App settings as environment variables (for the CLI and the check). */
  environment(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** A self-signed RSA certificate made with the openssl CLI, as an admin would before uploading it to the app. */
export function makeCertificate(subject = "/CN=entra-sync-test"): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "entra-cert-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30", "-subj", subject, "-keyout", keyPath, "-out", certPath], { stdio: ["ignore", "ignore", "pipe"] });
    const privateKeyPem = readFileSync(keyPath, "utf8");
    const certificatePem = readFileSync(certPath, "utf8");
    return { certificatePem, privateKeyPem, combinedPem: `${privateKeyPem}${certificatePem}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Everything a credential-mode test needs, IDENTITY_ENDPOINT set until stop(); MSAL fixes the source per process, so one per test file. */
export async function startIdentityEnvironment(options: { model?: DirectoryModel; accessTokenLifetimeSeconds?: number; usersPageSize?: number } = {}): Promise<IdentityEnvironment> {
  const env = await startEnvironment({ model: options.model, standIn: { accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds, usersPageSize: options.usersPageSize } });
  const entra = env.standIn;
  const identity = await ManagedIdentityStandIn.start({
    entra,
    identities: [
      { clientId: ids.appIdentity, roles: syncRoles },
      { clientId: ids.narrowIdentity, roles: ["User.Read.All"] },
      { clientId: ids.broadIdentity, roles: [...syncRoles, "Directory.Read.All"] },
      { clientId: ids.foreignIdentity, tenantId: ids.foreignTenant },
    ],
  });
  const restoreEnv = identity.useInProcess();
  const vault = await KeyVaultStandIn.start({ certDir, entra });
  const certificate = makeCertificate();
  const initialSecret = `initial-${Math.random().toString(36).slice(2)}-secret`;
  const issuer = (tenant: string) => `https://login.microsoftonline.com/${tenant}/v2.0`;
  const trust = (clientId: string, tenant = entra.tenantId) => ({ name: "entra-sync", issuer: issuer(tenant), subject: identity.identity(clientId).principalId as string, audiences: ["api://AzureADTokenExchange"] });
  entra.registerClient({ clientId: ids.secretApp, clientSecret: initialSecret, roles: syncRoles });
  entra.registerClient({ clientId: ids.certificateApp, certificates: [certificate.certificatePem], roles: syncRoles });
  entra.registerClient({ clientId: ids.federatedApp, federatedCredentials: [trust(ids.appIdentity)], roles: syncRoles });
  entra.registerClient({ clientId: ids.untrustingApp, federatedCredentials: [trust(ids.narrowIdentity)], roles: syncRoles });
  entra.registerClient({ clientId: ids.crossTenantApp, federatedCredentials: [trust(ids.foreignIdentity, ids.foreignTenant)], roles: syncRoles });
  const environment = (extra: Record<string, string> = {}): Record<string, string> => ({
    ENTRA_TENANT_ID: entra.tenantId,
    ENTRA_CREDENTIAL_MODE: "managedIdentity",
    MANAGED_IDENTITY_CLIENT_ID: ids.appIdentity,
    GRAPH_ENDPOINT: entra.url,
    AUTHORITY_HOST: entra.url,
    DirectoryStorage: env.azurite.connectionString,
    KEY_VAULT_URL: vault.url,
    ...extra,
  });
  return {
    env,
    identity,
    vault,
    certificate,
    initialSecret,
    settings: (extra = {}) => env.settings(environment(extra)),
    environment: (extra = {}) => ({ ...environment(extra), TABLE_PREFIX: `c${process.pid}x${Math.floor(Math.random() * 1e6)}` }),
    stop: async () => {
      restoreEnv();
      await vault.stop();
      await identity.stop();
      await env.stop();
    },
  };
}
