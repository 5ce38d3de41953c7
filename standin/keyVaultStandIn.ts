// A local HTTPS stand-in for the Key Vault secrets data plane: the 401 challenge, bearer checks, versions, expiry, access and errors.
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ensureStandInCertificate } from "./certificate";
import type { GraphStandIn } from "./graphStandIn";
import { keyVaultAudiences } from "./tokenIssuer";

export interface KeyVaultStandInOptions {
  /** Where the stand-in certificate lives (shared with the Graph stand-in). */
  certDir: string;
  /** The Entra stand-in whose tokens the vault accepts: signed by it, for the vault audience, from its tenant. */
  entra: GraphStandIn;
  /** Object ids (oid) that hold "Key Vault Secrets User"; undefined lets every authenticated caller read. */
  readers?: string[];
  /** Default 0: a free port on 127.0.0.1. */
  port?: number;
  /** about-secrets says an expired secret's value is not handed out (403 Forbidden, inner SecretExpired); vaults have been seen serving it. Default "served". */
  expiredSecrets?: "served" | "refused";
}

export interface SecretWriteOptions {
  expiresOn?: Date;
  notBefore?: Date;
  enabled?: boolean;
  contentType?: string;
  tags?: Record<string, string>;
}

export interface VaultRequest {
  method: string;
  path: string;
  url: string;
  status: number;
  at: number;
  /** The caller's object id when the bearer token verified. */
  caller: string | undefined;
}

interface SecretVersion {
  version: string;
  value: string;
  enabled: boolean;
  expiresOn: Date | undefined;
  notBefore: Date | undefined;
  created: number;
  updated: number;
  contentType: string | undefined;
  tags: Record<string, string>;
  /** Set for the secret behind a Key Vault certificate: the secret is then managed and names the key. */
  managed: boolean;
}

/** api-version values the data plane answers: 7.0 to 7.6 and the dated versions (keyvault-secrets 4.11 sends 2025-07-01). */
const apiVersionPattern = /^(7\.\d+|\d{4}-\d{2}-\d{2})(-preview(\.\d+)?)?$/;
/** What a vault with soft delete and purge protection off reports (about-keys-secrets-and-certificates). */
const recoveryLevel = "Recoverable+Purgeable";
const recoverableDays = 90;

export class KeyVaultStandIn {
  readonly url: string;
  /** Every request in arrival order; `unknownRequests` holds those the stand-in does not serve, to see what a client sent. */
  readonly requests: VaultRequest[] = [];
  readonly unknownRequests: VaultRequest[] = [];
  private readonly secrets = new Map<string, SecretVersion[]>();
  private readers: Set<string> | undefined;

  private constructor(
    url: string,
    private readonly server: https.Server,
    private readonly entra: GraphStandIn,
    readers: string[] | undefined,
    private readonly refuseExpired: boolean,
  ) {
    this.url = url;
    this.readers = readers ? new Set(readers.map((id) => id.toLowerCase())) : undefined;
  }

  static async start(options: KeyVaultStandInOptions): Promise<KeyVaultStandIn> {
    const { certPath, keyPath } = ensureStandInCertificate(options.certDir);
    let vault: KeyVaultStandIn | undefined;
    const server = https.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) }, (request, response) => {
      if (vault) void vault.handle(request, response);
      else response.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    vault = new KeyVaultStandIn(`https://127.0.0.1:${port}`, server, options.entra, options.readers, options.expiredSecrets === "refused");
    return vault;
  }

  /** Adds a new version of the secret (creating it), as `az keyvault secret set` does; returns the version id. */
  setSecret(name: string, value: string, options: SecretWriteOptions = {}): string {
    return this.addVersion(name, value, options, false);
  }

  /** Stores a certificate as Key Vault exposes it through the secrets API: PEM with the private key, managed, content type application/x-pem-file. */
  setCertificate(name: string, pem: string, options: SecretWriteOptions = {}): string {
    return this.addVersion(name, pem, { contentType: "application/x-pem-file", ...options }, true);
  }

  /** Changes the expiry of the current version, as `az keyvault secret set-attributes --expires` does; undefined clears it. */
  setExpiry(name: string, expiresOn: Date | undefined): void {
    const current = this.latest(name);
    current.expiresOn = expiresOn;
    current.updated = nowSeconds();
  }

  setEnabled(name: string, enabled: boolean): void {
    const current = this.latest(name);
    current.enabled = enabled;
    current.updated = nowSeconds();
  }

  deleteSecret(name: string): void {
    this.secrets.delete(name.toLowerCase());
  }

  /** Grants "Key Vault Secrets User" to an object id; the first grant switches the vault from "anyone authenticated" to a list. */
  grantRead(objectId: string): void {
    this.readers ??= new Set();
    this.readers.add(objectId.toLowerCase());
  }

  revokeRead(objectId: string): void {
    this.readers ??= new Set();
    this.readers.delete(objectId.toLowerCase());
  }

  /** How many times the secret's value was handed out (200 answers), to see a client re-read it. */
  readsOf(name: string): number {
    return this.requests.filter((request) => request.status === 200 && request.path.toLowerCase().startsWith(`/secrets/${name.toLowerCase()}`)).length;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private addVersion(name: string, value: string, options: SecretWriteOptions, managed: boolean): string {
    if (!/^[0-9a-zA-Z-]{1,127}$/.test(name)) throw new Error(`setSecret: ${name} is not a valid Key Vault secret name`);
    const version = randomBytes(16).toString("hex");
    const created = nowSeconds();
    const versions = this.secrets.get(name.toLowerCase()) ?? [];
    versions.push({
      version,
      value,
      enabled: options.enabled ?? true,
      expiresOn: options.expiresOn,
      notBefore: options.notBefore,
      created,
      updated: created,
      contentType: options.contentType,
      tags: options.tags ?? {},
      managed,
    });
    this.secrets.set(name.toLowerCase(), versions);
    return version;
  }

  private latest(name: string): SecretVersion {
    const current = this.secrets.get(name.toLowerCase())?.at(-1);
    if (!current) throw new Error(`No secret ${name} in the vault stand-in`);
    return current;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", this.url);
    // The body is not used, but it must be drained before answering.
    for await (const _chunk of request) void _chunk;
    const { status, headers, body, caller, known } = this.route(request, method, url);
    const record: VaultRequest = { method, path: url.pathname, url: request.url ?? "/", status, at, caller };
    this.requests.push(record);
    if (!known) this.unknownRequests.push(record);
    const text = body === undefined ? "" : JSON.stringify(body);
    response.writeHead(status, {
      ...(body === undefined ? {} : { "Content-Type": "application/json; charset=utf-8" }),
      "x-ms-request-id": randomUUID(),
      "x-ms-keyvault-service-version": "1.9.0.0",
      "Content-Length": Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  }

  private route(request: IncomingMessage, method: string, url: URL): { status: number; headers: Record<string, string>; body: unknown; caller?: string; known: boolean } {
    const match = /^\/secrets\/([^/]+)\/?([^/]*)$/.exec(url.pathname);
    if (!match || method !== "GET") {
      return { status: match ? 405 : 404, headers: {}, body: vaultError(match ? "MethodNotAllowed" : "NotFound", `The stand-in does not serve ${method} ${url.pathname}.`), known: false };
    }
    const apiVersion = url.searchParams.get("api-version");
    if (apiVersion === null || !apiVersionPattern.test(apiVersion)) {
      return { status: 400, headers: {}, body: vaultError("BadParameter", `The request URI contains an invalid or missing api-version '${apiVersion ?? ""}'. Use a supported version such as 7.6.`), known: true };
    }
    const challenge = {
      "WWW-Authenticate": `Bearer authorization="https://login.microsoftonline.com/${this.entra.tenantId}", resource="https://vault.azure.net"`,
    };
    const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "")?.[1]?.trim();
    if (!token) return { status: 401, headers: challenge, body: vaultError("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), known: true };
    const verified = this.entra.verifyAccessToken(token, keyVaultAudiences);
    if (!verified.ok) return { status: 401, headers: challenge, body: vaultError("Unauthorized", `AKV10022: ${verified.message}`), known: true };
    const caller = String(verified.claims.oid ?? verified.claims.appid);
    const name = decodeURIComponent(match[1] as string);
    const version = decodeURIComponent(match[2] ?? "");
    if (this.readers && !this.readers.has(caller.toLowerCase())) {
      return {
        status: 403,
        headers: {},
        body: vaultError(
          "Forbidden",
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${verified.claims.appid ?? verified.claims.azp};oid=${caller};iss=${verified.claims.iss}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/secrets/${name}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC'\r\nVault: stand-in;location=local\r\n`,
          "ForbiddenByRbac",
        ),
        caller,
        known: true,
      };
    }
    const versions = this.secrets.get(name.toLowerCase());
    const secret = version === "" ? versions?.at(-1) : versions?.find((candidate) => candidate.version === version);
    if (!secret) {
      const what = version === "" ? name : `${name}/${version}`;
      return {
        status: 404,
        headers: {},
        body: vaultError("SecretNotFound", `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`),
        caller,
        known: true,
      };
    }
    if (!secret.enabled) {
      return { status: 403, headers: {}, body: vaultError("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"), caller, known: true };
    }
    if (this.refuseExpired && secret.expiresOn && secret.expiresOn.getTime() <= Date.now()) {
      return { status: 403, headers: {}, body: vaultError("Forbidden", "Operation get is not allowed on a expired secret.", "SecretExpired"), caller, known: true };
    }
    return { status: 200, headers: {}, body: this.bundle(name, secret), caller, known: true };
  }

  /** The SecretBundle of Get Secret: value, id, attributes (seconds since 1970), contentType, tags, and kid/managed for a certificate. */
  private bundle(name: string, secret: SecretVersion): Record<string, unknown> {
    const attributes: Record<string, unknown> = { enabled: secret.enabled };
    if (secret.notBefore) attributes["nbf"] = Math.floor(secret.notBefore.getTime() / 1000);
    if (secret.expiresOn) attributes["exp"] = Math.floor(secret.expiresOn.getTime() / 1000);
    Object.assign(attributes, { created: secret.created, updated: secret.updated, recoveryLevel, recoverableDays });
    return {
      value: secret.value,
      ...(secret.contentType === undefined ? {} : { contentType: secret.contentType }),
      id: `${this.url}/secrets/${name}/${secret.version}`,
      ...(secret.managed ? { kid: `${this.url}/keys/${name}/${secret.version}`, managed: true } : {}),
      attributes,
      tags: secret.tags,
    };
  }
}

function vaultError(code: string, message: string, inner?: string): Record<string, unknown> {
  return { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
