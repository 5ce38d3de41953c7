// Reads Microsoft Graph delta pages through the Graph SDK, honouring Retry-After and classifying expired tokens.
import { ResponseType, type Client } from "@microsoft/microsoft-graph-client";
import { devicePropertyNames, groupPropertyNames, userPropertyNames, type StreamName } from "../directory/directoryObjects";
import { sleep } from "../sync/concurrency";
import { explainNetworkFailure } from "../errors/networkFailure";
import { syncErrorIn } from "../errors/syncError";
import { DeltaTokenExpiredError, GraphRequestError } from "./graphErrors";
import { RequestFailure } from "./requestFailure";
import { resourceUnitCost, type GraphMetrics } from "./graphMetrics";

/** One page of a delta stream as Graph returns it. */
export interface DeltaPage {
  objects: Array<Record<string, unknown>>;
  nextLink: string | undefined;
  deltaLink: string | undefined;
}

/** Where a delta read goes next: a Graph URL, or the start of a full read. */
export type DeltaCursor = { kind: "initial" } | { kind: "link"; url: string };

export interface DeltaSource {
  readPage(stream: StreamName, cursor: DeltaCursor): Promise<DeltaPage>;
  /** The current state of the given objects, whole, read outside the stream (objects entering the scope). */
  readByIds(stream: StreamName, ids: readonly string[]): Promise<Array<Record<string, unknown>>>;
}

/** A delta $filter takes at most 50 ids (user-delta, group-delta). */
export const maxIdsPerFilter = 50;

export interface GraphDeltaReaderOptions {
  maxRetries?: number;
  /** Injected so tests can observe waits without spending them. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected with sleep, so a test's clock moves as the reader waits. */
  now?: () => number;
  /** Gives up on an endpoint that cannot be reached once the next retry would start later than this after the first failure (the CLI: about 30 s); default only maxRetries bounds it. */
  unreachableGiveUpMs?: number;
  /** Told about each wait for an unreachable endpoint, so a long retry says what it is waiting for. */
  onUnreachable?: (message: string) => void;
}

/** Statuses Graph documents as transient: throttling and service unavailability. */
const retryableStatuses = new Set([429, 500, 502, 503, 504]);
/** Error codes Graph uses when a delta token can no longer be used (delta query overview). */
const expiredTokenCodes = new Set(["syncStateNotFound", "resyncRequired", "syncStateInvalid"]);
/** Errors @azure/identity raises when no token can be had; retrying the request cannot help. */
const credentialErrorNames = new Set(["AuthenticationError", "CredentialUnavailableError", "AggregateAuthenticationError", "AuthenticationRequiredError"]);
/** Identity and access limits count resource units per 10 seconds per app and tenant (throttling-limits). */
const throttleWindowMs = 10_000;
/** Share of the learned quota the reader allows itself, leaving room for other callers of the same app. */
const quotaHeadroom = 0.9;
/** Backoff when Graph sends no Retry-After: 1 s doubling to at most 60 s. */
const fallbackBackoffMs = (attempt: number) => Math.min(60_000, 1000 * 2 ** attempt);

export const userSelect = ["id", ...userPropertyNames].join(",");
export const groupSelect = ["id", ...groupPropertyNames, "members"].join(",");
export const deviceSelect = ["id", ...devicePropertyNames].join(",");

export class GraphDeltaReader implements DeltaSource {
  private readonly maxRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** Resource units spent in the last throttling window, to stay under the quota once Graph has shown where it is. */
  private readonly spent: Array<{ at: number; units: number }> = [];
  /** The app+tenant quota per window as learned from a 429 or the usage header; unknown until Graph gives a sign. */
  private quotaEstimate: number | undefined;

  constructor(
    private readonly client: Client,
    private readonly graphEndpoint: string,
    private readonly metrics: GraphMetrics,
    options: GraphDeltaReaderOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 6;
    this.sleep = options.sleep ?? sleep;
    this.now = options.now ?? Date.now;
    this.unreachableGiveUpMs = options.unreachableGiveUpMs;
    this.onUnreachable = options.onUnreachable;
  }

  private readonly unreachableGiveUpMs: number | undefined;
  private readonly onUnreachable: ((message: string) => void) | undefined;

  initialUrl(stream: StreamName): string {
    const select = stream === "users" ? userSelect : stream === "groups" ? groupSelect : deviceSelect;
    return `${this.graphEndpoint}/v1.0/${stream}/delta?$select=${select}`;
  }

  async readPage(stream: StreamName, cursor: DeltaCursor): Promise<DeltaPage> {
    const url = cursor.kind === "initial" ? this.initialUrl(stream) : cursor.url;
    const body = (await this.getJson(url)) as Record<string, unknown>;
    const value = body.value;
    if (!Array.isArray(value)) throw new GraphRequestError(`GET ${describe(url)} answered without a value array`, 200, undefined);
    return {
      objects: value as Array<Record<string, unknown>>,
      nextLink: typeof body["@odata.nextLink"] === "string" ? body["@odata.nextLink"] : undefined,
      deltaLink: typeof body["@odata.deltaLink"] === "string" ? body["@odata.deltaLink"] : undefined,
    };
  }

  async readByIds(stream: StreamName, ids: readonly string[]): Promise<Array<Record<string, unknown>>> {
    const objects: Array<Record<string, unknown>> = [];
    for (let start = 0; start < ids.length; start += maxIdsPerFilter) {
      const filter = ids.slice(start, start + maxIdsPerFilter).map((id) => `id eq '${id}'`).join(" or ");
      // A filtered delta round answers with each object whole, members included; its deltaLink is not kept.
      let page = await this.readPage(stream, { kind: "link", url: `${this.initialUrl(stream)}&$filter=${encodeURIComponent(filter)}` });
      objects.push(...page.objects);
      while (page.nextLink) {
        page = await this.readPage(stream, { kind: "link", url: page.nextLink });
        objects.push(...page.objects);
      }
    }
    return objects;
  }

  async getJson(url: string): Promise<unknown> {
    const cost = resourceUnitCost(url);
    let firstFailureAt: number | undefined;
    for (let attempt = 0; ; attempt++) {
      await this.pace(cost);
      let response: Response;
      const failure = new RequestFailure();
      try {
        this.metrics.requests++;
        this.metrics.resourceUnits += cost;
        response = (await this.client.api(url).middlewareOptions([failure]).responseType(ResponseType.RAW).get()) as Response;
      } catch (error) {
        const original = failure.error ?? error;
        // A refusal already explained (tenant guard, Key Vault, sign-in) goes up as it is: retrying cannot fix it.
        const explained = syncErrorIn(original);
        if (explained) throw explained;
        // A credential that cannot get a token will not get one by retrying: the admin has something to fix.
        const cause = credentialErrorOf(error);
        if (cause) throw new GraphRequestError(`Could not get a Microsoft Graph token for GET ${describe(url)}: ${cause.message}`, undefined, cause.name);
        const network = explainNetworkFailure(original, { service: "Microsoft Graph", url, setting: "GRAPH_ENDPOINT (or ENTRA_CLOUD)" });
        firstFailureAt ??= this.now();
        const delay = fallbackBackoffMs(attempt);
        const withinBudget = this.unreachableGiveUpMs === undefined || this.now() - firstFailureAt + delay <= this.unreachableGiveUpMs;
        if (attempt < this.maxRetries && withinBudget) {
          if (network) this.onUnreachable?.(`${network.message} Retrying in ${Math.round(delay / 1000)} s (retry ${attempt + 1} of ${this.maxRetries}).`);
          await this.wait(delay);
          continue;
        }
        if (network) throw network;
        throw new GraphRequestError(`GET ${describe(url)} failed after ${attempt + 1} attempts: ${(error as Error).message}`, undefined, undefined);
      }
      if (response.ok) {
        this.learnFromUsage(response, cost);
        return await response.json();
      }
      const { code, message } = await errorOf(response);
      if (response.status === 410 || (response.status === 400 && code !== undefined && expiredTokenCodes.has(code))) {
        throw new DeltaTokenExpiredError(
          `GET ${describe(url)} answered ${response.status} ${code ?? ""}: the delta token is no longer valid, a full read is needed`,
          response.status,
          code,
          response.headers.get("location") ?? undefined,
        );
      }
      if (retryableStatuses.has(response.status) && attempt < this.maxRetries) {
        if (response.status === 429) {
          this.metrics.throttled++;
          // Refused at this usage: the quota is at most what was spent in the window (a refusal with nothing spent is some other limit).
          const used = this.unitsInWindow(this.now());
          if (used > 0) this.quotaEstimate = Math.min(this.quotaEstimate ?? Number.POSITIVE_INFINITY, used);
        }
        await this.wait(retryAfterMs(response, this.now()) ?? fallbackBackoffMs(attempt));
        continue;
      }
      const attempts = attempt > 0 ? ` after ${attempt + 1} attempts` : "";
      throw new GraphRequestError(`GET ${describe(url)} answered ${response.status} ${code ?? ""}${attempts}: ${message}`, response.status, code);
    }
  }

  private async wait(ms: number): Promise<void> {
    this.metrics.retries++;
    this.metrics.waitedMs += ms;
    await this.sleep(ms);
  }

  private unitsInWindow(now: number): number {
    while (this.spent.length > 0 && now - this.spent[0]!.at >= throttleWindowMs) this.spent.shift();
    return this.spent.reduce((sum, entry) => sum + entry.units, 0);
  }

  /** Waits until this request's units fit under the learned quota, with headroom; free until Graph has throttled or warned. */
  private async pace(cost: number): Promise<void> {
    if (this.quotaEstimate === undefined) return;
    const now = this.now();
    const budget = this.quotaEstimate * quotaHeadroom;
    let used = this.unitsInWindow(now);
    if (used + cost <= budget) return;
    // Wait for just enough of the window to expire: the oldest entries leave first.
    let wait = 0;
    for (const entry of this.spent) {
      used -= entry.units;
      wait = entry.at + throttleWindowMs - now + 5;
      if (used + cost <= budget) break;
    }
    if (wait <= 0) return;
    this.metrics.waitedMs += wait;
    await this.sleep(wait);
  }

  /** Records what a request cost and, when Graph reports how much of the quota is used, what the quota must be. */
  private learnFromUsage(response: Response, cost: number): void {
    const now = this.now();
    const reported = Number(response.headers.get("x-ms-resource-unit"));
    this.spent.push({ at: now, units: Number.isFinite(reported) && reported > 0 ? reported : cost });
    const percentage = Number(response.headers.get("x-ms-throttle-limit-percentage"));
    if (!Number.isFinite(percentage) || percentage <= 0) return;
    // Sent as a fraction above 0.8 (throttling-limits); a value above 1 is read as a percentage.
    const fraction = percentage > 1.5 ? percentage / 100 : percentage;
    const estimate = this.unitsInWindow(now) / fraction;
    if (this.quotaEstimate === undefined || estimate < this.quotaEstimate) this.quotaEstimate = estimate;
  }
}

/** The Graph SDK wraps errors from the credential in a GraphError whose code is the original error's name. */
function credentialErrorOf(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined;
  if (credentialErrorNames.has(error.name)) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && credentialErrorNames.has(code)) {
    const inner = (error as { cause?: unknown }).cause;
    return Object.assign(new Error(inner instanceof Error ? inner.message : error.message || String((error as { body?: unknown }).body ?? "")), { name: code });
  }
  return undefined;
}

/** Retry-After is seconds or an HTTP date (RFC 9110); Graph sends seconds. */
function retryAfterMs(response: Response, now: number): number | undefined {
  const header = response.headers.get("retry-after");
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function errorOf(response: Response): Promise<{ code: string | undefined; message: string }> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return { code: parsed.error?.code, message: parsed.error?.message ?? text.slice(0, 300) };
  } catch {
    return { code: undefined, message: text.slice(0, 300) || response.statusText };
  }
}

/** Names a request without its long opaque token, which is noise in a log line. */
export function describe(url: string): string {
  try {
    const parsed = new URL(url);
    const token = ["$skiptoken", "$deltatoken"].find((name) => parsed.searchParams.has(name));
    return token ? `${parsed.origin}${parsed.pathname}?${token}=…` : `${parsed.origin}${parsed.pathname}${parsed.search ? "?…" : ""}`;
  } catch {
    return url.slice(0, 120);
  }
}
