// `npm run console`: serves the registered HTTP functions and the console against the embedded demo, with a development sign-in and an in-process queue worker.
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { consoleAppRoles, encodeClientPrincipal } from "../access/clientPrincipal";
import { consolePath, enableLocalSignIn } from "../access/consoleAccess";
import { loadSettings, type Settings } from "../config/settings";
import { compose } from "../compositionRoot";
import { createLogger, jsonLinesSink, type Logger } from "../logging/logger";
import { maxDequeueCount, type RunMessage, type RunQueue, type SendOptions } from "../service/runQueue";
import { useConnectionCheckOptions, useSyncService } from "../service/serviceProvider";
import { SyncService } from "../service/syncService";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";
import { DirectoryModel } from "../../standin/directoryModel";
import { GraphStandIn } from "../../standin/graphStandIn";
import { standInCertDir } from "../../standin/trustedRelaunch";
import { demoClient } from "./demo";
import { loadHttpFunctions, matchFunction, type LocalHttpFunction } from "./localFunctions";

/** The development sign-in's principals: fake accounts that exist only in this process, one per console role. */
export const developmentPrincipals: Record<"admin" | "viewer" | "none", { name: string; objectId: string; roles: string[] }> = {
  admin: { name: "dev-admin@console.localhost", objectId: "00000000-0000-4000-8000-00000000ad01", roles: [consoleAppRoles.act] },
  viewer: { name: "dev-viewer@console.localhost", objectId: "00000000-0000-4000-8000-00000000ad02", roles: [consoleAppRoles.view] },
  none: { name: "dev-norole@console.localhost", objectId: "00000000-0000-4000-8000-00000000ad03", roles: [] },
};
export type DevelopmentRole = keyof typeof developmentPrincipals;

const signInCookie = "entra_sync_dev_signin";
/** What the Functions host lets a queue message wait before redelivery after a failed attempt (host.json visibilityTimeout is a minute; locally a few seconds). */
const localRetryDelayMs = 3000;
/** The host reads request bodies up to 100 MB; the console's are tiny, so 1 MiB is plenty here. */
const maxLocalBodyBytes = 1024 * 1024;

export interface ConsoleHostOptions {
  /** 0 picks a free port. */
  port: number;
  users: number;
  groups: number;
  /** Extra app settings (DELETION_THRESHOLD_COUNT…). */
  settings?: Record<string, string>;
  /** Signs every browser in with this role without showing the chooser. */
  autoSignIn?: DevelopmentRole;
  /** Queues a first full sync at start, so the console opens on data. */
  initialSync: boolean;
  /** Added to each Graph answer so a small tenant's run lasts long enough to watch. */
  graphLatencyMs: number;
  /** Wait before a failed attempt is delivered again; default a few seconds (tests make it short). */
  retryDelayMs?: number;
  logger: Logger;
}

export interface ConsoleHost {
  url: string;
  /** The key function-level routes (/api/sync…) accept here, as x-functions-key or ?code=. */
  functionKey: string;
  model: DirectoryModel;
  standIn: GraphStandIn;
  service: SyncService;
  settings: Settings;
  /** Resolves once no queued run is waiting or working. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Delivers run requests to the worker in this process, with the host's retry and poison behaviour. */
class InProcessRunQueue implements RunQueue {
  constructor(private readonly retryDelayMs: number) {}

  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly working = new Set<Promise<void>>();
  private stopped = false;
  worker: ((message: unknown, dequeueCount: number) => Promise<void>) | undefined;
  poison: ((message: unknown) => Promise<void>) | undefined;

  async send(message: RunMessage, options: SendOptions = {}): Promise<void> {
    // A JSON round trip, as the queue gives the trigger parsed JSON and never the sender's object.
    this.deliver(JSON.parse(JSON.stringify(message)) as unknown, 1, (options.delaySeconds ?? 0) * 1000);
  }

  private deliver(message: unknown, dequeueCount: number, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const work = this.work(message, dequeueCount).finally(() => this.working.delete(work));
      this.working.add(work);
    }, delayMs);
    this.timers.add(timer);
  }

  private async work(message: unknown, dequeueCount: number): Promise<void> {
    try {
      await this.worker?.(message, dequeueCount);
    } catch {
      if (dequeueCount >= maxDequeueCount) await this.poison?.(message).catch(() => undefined);
      else this.deliver(message, dequeueCount + 1, this.retryDelayMs);
    }
  }

  async idle(): Promise<void> {
    while (this.working.size > 0 || this.timers.size > 0) {
      await Promise.all(this.working);
      if (this.working.size === 0 && this.timers.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled(this.working);
  }
}

export async function startConsoleHost(options: ConsoleHostOptions): Promise<ConsoleHost> {
  enableLocalSignIn();
  const azurite: AzuriteInstance = await startAzurite();
  const model = DirectoryModel.generate({ seed: 2026, users: options.users, groups: options.groups });
  // Small pages, so even a small tenant's run reads several and the console has progress to show.
  const standIn = await GraphStandIn.start({ certDir: standInCertDir, model, usersPageSize: 10, groupsPageSize: 5 });
  standIn.faults.latencyMs = options.graphLatencyMs;
  const env = {
    ENTRA_TENANT_ID: standIn.tenantId,
    GRAPH_ENDPOINT: standIn.url,
    AUTHORITY_HOST: standIn.url,
    DirectoryStorage: azurite.connectionString,
    TABLE_PREFIX: "console",
    ...options.settings,
  };
  // The connection check reads app settings from the environment, as it does in Azure.
  Object.assign(process.env, env);
  const settings = loadSettings(env);
  const credential = new ClientSecretCredential(settings.tenantId, demoClient.clientId, demoClient.clientSecret, { authorityHost: standIn.url, disableInstanceDiscovery: true });
  const queue = new InProcessRunQueue(options.retryDelayMs ?? localRetryDelayMs);
  const service = new SyncService(settings, { composeTenant: (tenantSettings, composeOptions) => compose(tenantSettings, { ...composeOptions, credential }), queue });
  queue.worker = async (message, dequeueCount) => void (await service.processRunMessage(message, { dequeueCount, logger: options.logger }));
  queue.poison = async (message) => void (await service.processPoisonMessage(message, { logger: options.logger }));
  useSyncService(service);
  useConnectionCheckOptions({ credential });
  const functions = loadHttpFunctions(path.resolve(__dirname, "../../functions"));
  const functionKey = randomBytes(18).toString("base64url");
  const server = createServer((request, response) => {
    handle(request, response, { functions, functionKey, autoSignIn: options.autoSignIn, logger: options.logger }).catch((error: unknown) => {
      options.logger.error(`Local host: ${(error as Error).message}`);
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("The local host failed; see its output");
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (options.initialSync) await service.requestRun({ tenantId: settings.tenantId, mode: "full", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "npm run console" }, options.logger);
  return {
    url,
    functionKey,
    model,
    standIn,
    service,
    settings,
    idle: () => queue.idle(),
    stop: async () => {
      await closeServer(server);
      await queue.stop();
      useSyncService(undefined);
      useConnectionCheckOptions({});
      await standIn.stop();
      await azurite.stop();
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface HandleOptions {
  functions: LocalHttpFunction[];
  functionKey: string;
  autoSignIn: DevelopmentRole | undefined;
  logger: Logger;
}

async function handle(request: IncomingMessage, response: ServerResponse, options: HandleOptions): Promise<void> {
  const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "127.0.0.1"}`);
  const method = (request.method ?? "GET").toUpperCase();
  if (url.pathname === "/") return redirect(response, consolePath);
  if (url.pathname.startsWith("/.auth/")) return signInEndpoints(url, request, response, options);
  const matched = matchFunction(options.functions, method, url.pathname);
  if (!matched) return send(response, 404, { "content-type": "application/json" }, JSON.stringify({ error: { code: "not_found", message: `No function answers ${url.pathname}` } }));
  if ("methodNotAllowed" in matched) return send(response, 405, { "content-type": "application/json" }, JSON.stringify({ error: { code: "method_not_allowed", message: `${method} is not allowed on ${url.pathname}` } }));
  const { fn, params } = matched;
  if (fn.authLevel !== "anonymous" && !keyMatches(request.headers["x-functions-key"] ?? url.searchParams.get("code") ?? undefined, options.functionKey)) {
    // What the Functions host answers a function-level route without a valid key.
    return send(response, 401, {}, "");
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    // App Service Authentication drops client-sent principal headers; the development sign-in does the same, then adds its own.
    if (value === undefined || name.toLowerCase().startsWith("x-ms-client-principal")) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const role = signedInRole(request, options.autoSignIn);
  if (role) {
    const principal = developmentPrincipals[role];
    headers.set("x-ms-client-principal", encodeClientPrincipal(principal));
    headers.set("x-ms-client-principal-name", principal.name);
    headers.set("x-ms-client-principal-id", principal.objectId);
    headers.set("x-ms-client-principal-idp", "aad");
  }
  const body = await readBody(request);
  const httpRequest = new HttpRequest({ method, url: url.toString(), headers: Object.fromEntries(headers), params, ...(body.length > 0 ? { body: { bytes: body } } : {}) });
  const context = new InvocationContext({
    functionName: fn.name,
    invocationId: randomUUID(),
    logHandler: (level, ...args) => {
      if (level === "error" || level === "warning") options.logger.warn(`${fn.name}: ${args.map(String).join(" ")}`);
    },
  });
  const result = (await fn.handler(httpRequest, context)) as HttpResponseInit | undefined;
  writeResult(response, result ?? { status: 204 });
}

function keyMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function writeResult(response: ServerResponse, result: HttpResponseInit): void {
  const headers: Record<string, string> = {};
  const given = result.headers;
  if (given instanceof Headers) given.forEach((value, name) => (headers[name] = value));
  else if (given) for (const [name, value] of Object.entries(given as Record<string, string>)) headers[name.toLowerCase()] = String(value);
  let body: string | Buffer = "";
  if (result.jsonBody !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(result.jsonBody);
  } else if (typeof result.body === "string" || Buffer.isBuffer(result.body)) body = result.body;
  else if (result.body instanceof Uint8Array) body = Buffer.from(result.body);
  send(response, result.status ?? 200, headers, body);
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  response.writeHead(status, headers);
  response.end(body);
}

function redirect(response: ServerResponse, location: string, cookie?: string): void {
  response.writeHead(302, { location, "cache-control": "no-store", ...(cookie ? { "set-cookie": cookie } : {}) });
  response.end();
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request) {
    total += (chunk as Buffer).length;
    if (total > maxLocalBodyBytes) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function signedInRole(request: IncomingMessage, autoSignIn: DevelopmentRole | undefined): DevelopmentRole | undefined {
  const cookie = (request.headers.cookie ?? "").split(";").map((part) => part.trim().split("=")).find(([name]) => name === signInCookie)?.[1];
  if (cookie && Object.hasOwn(developmentPrincipals, cookie)) return cookie as DevelopmentRole;
  return cookie === "signed-out" ? undefined : autoSignIn;
}

/** Only paths on this host, so the sign-in never redirects elsewhere. */
function localPath(value: string | null, fallback: string): string {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : fallback;
}

/** Stand-ins for App Service Authentication's /.auth/login/aad and /.auth/logout, choosing a fake principal instead of signing in to Entra. */
function signInEndpoints(url: URL, request: IncomingMessage, response: ServerResponse, options: HandleOptions): void {
  if (url.pathname === "/.auth/logout") {
    return redirect(response, localPath(url.searchParams.get("post_logout_redirect_uri"), consolePath), `${signInCookie}=signed-out; Path=/; HttpOnly; SameSite=Lax`);
  }
  if (url.pathname === "/.auth/me") {
    const role = signedInRole(request, options.autoSignIn);
    const principal = role ? developmentPrincipals[role] : undefined;
    return send(response, 200, { "content-type": "application/json" }, JSON.stringify(principal ? [{ provider_name: "aad", user_id: principal.name, user_claims: principal.roles.map((value) => ({ typ: "roles", val: value })) }] : []));
  }
  if (url.pathname !== "/.auth/login/aad") return send(response, 404, {}, "");
  const back = localPath(url.searchParams.get("post_login_redirect_uri"), consolePath);
  const role = url.searchParams.get("role");
  if (role && Object.hasOwn(developmentPrincipals, role)) return redirect(response, back, `${signInCookie}=${role}; Path=/; HttpOnly; SameSite=Lax`);
  const choice = (key: DevelopmentRole, label: string) => `<li><a href="/.auth/login/aad?role=${key}&amp;post_login_redirect_uri=${encodeURIComponent(back)}">${label}</a> <code>${developmentPrincipals[key].name}</code></li>`;
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Development sign-in</title></head>
<body><main><h1>Development sign-in</h1><p>This local host stands in for Microsoft Entra sign-in. Choose the fake principal to sign in as; it exists only in <code>npm run console</code> and cannot be enabled in Azure.</p>
<ul>${choice("admin", "Admin (Sync.Admin: may run syncs and allow deletions)")}${choice("viewer", "Viewer (Sync.Viewer: may only look)")}${choice("none", "Signed in without a console role")}</ul></main></body></html>`;
  send(response, 200, { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'" }, page);
}

export interface RunConsoleOptions {
  port: number;
  users: number;
  groups: number;
  role: DevelopmentRole | undefined;
  verbose: boolean;
}

/** The CLI command: starts everything, prints where to go, and runs until interrupted. */
export async function runConsole(options: RunConsoleOptions): Promise<number> {
  const out = (line = "") => process.stdout.write(`${line}\n`);
  out("Starting Azurite, the Microsoft Graph stand-in and the local Functions host…");
  const logger = createLogger(options.verbose ? jsonLinesSink : (level, message) => (level === "error" || level === "warn" ? process.stderr.write(`${level}: ${message}\n`) : undefined));
  const host = await startConsoleHost({ port: options.port, users: options.users, groups: options.groups, autoSignIn: options.role, initialSync: true, graphLatencyMs: 150, logger });
  out(`\nConsole:        ${host.url}${consolePath}`);
  out(`Sign-in:        development sign-in (fake principals, local only): ${options.role ? `everyone is ${options.role}` : "choose admin or viewer on the sign-in page"}`);
  out(`Automation API: curl -H "x-functions-key: ${host.functionKey}" ${host.url}/api/sync/status`);
  out(`Sample tenant:  ${host.model.users.size} users, ${host.model.groups.size} groups; a first full sync is running.`);
  out("\nPress Ctrl+C to stop.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  out("\nStopping…");
  await host.stop();
  return 0;
}
