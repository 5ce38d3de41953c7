// Reads Microsoft Graph delta pages through the Graph SDK, honouring Retry-After and classifying expired tokens.
import { ResponseType, type Client } from "@microsoft/microsoft-graph-client";
import { groupPropertyNames, userPropertyNames, type StreamName } from "../directory/directoryObjects";
import { sleep } from "../sync/concurrency";
import { DeltaTokenExpiredError, GraphRequestError } from "./graphErrors";
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
}

export interface GraphDeltaReaderOptions {
  maxRetries?: number;
  /** Injected so tests can observe waits without spending them. */
  sleep?: (ms: number) => Promise<void>;
}

/** Statuses Graph documents as transient: throttling and service unavailability. */
const retryableStatuses = new Set([429, 500, 502, 503, 504]);
/** Error codes Graph uses when a delta token can no longer be used (delta query overview). */
const expiredTokenCodes = new Set(["syncStateNotFound", "resyncRequired", "syncStateInvalid"]);
/** Errors @azure/identity raises when no token can be had; retrying the request cannot help. */
const credentialErrorNames = new Set(["AuthenticationError", "CredentialUnavailableError", "AggregateAuthenticationError", "AuthenticationRequiredError"]);
/** Backoff when Graph sends no Retry-After: 1 s doubling to at most 60 s. */
const fallbackBackoffMs = (attempt: number) => Math.min(60_000, 1000 * 2 ** attempt);

export const userSelect = ["id", ...userPropertyNames].join(",");
export const groupSelect = ["id", ...groupPropertyNames, "members"].join(",");

export class GraphDeltaReader implements DeltaSource {
  private readonly maxRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Gap kept between requests after Graph throttled us, so throttled answers stay rare. */
  private paceMs = 0;
  private lastRequestAt = 0;

  constructor(
    private readonly client: Client,
    private readonly graphEndpoint: string,
    private readonly metrics: GraphMetrics,
    options: GraphDeltaReaderOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 6;
    this.sleep = options.sleep ?? sleep;
  }

  initialUrl(stream: StreamName): string {
    const select = stream === "users" ? userSelect : groupSelect;
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

  async getJson(url: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      await this.pace();
      let response: Response;
      try {
        this.metrics.requests++;
        this.metrics.resourceUnits += resourceUnitCost(url);
        response = (await this.client.api(url).responseType(ResponseType.RAW).get()) as Response;
      } catch (error) {
        // A credential that cannot get a token will not get one by retrying: the admin has something to fix.
        const cause = credentialErrorOf(error);
        if (cause) throw new GraphRequestError(`Could not get a Microsoft Graph token for GET ${describe(url)}: ${cause.message}`, undefined, cause.name);
        if (attempt < this.maxRetries) {
          await this.wait(fallbackBackoffMs(attempt));
          continue;
        }
        throw new GraphRequestError(`GET ${describe(url)} failed after ${attempt + 1} attempts: ${(error as Error).message}`, undefined, undefined);
      }
      if (response.ok) {
        this.paceMs = Math.floor(this.paceMs * 0.9);
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
          this.paceMs = Math.min(5000, Math.max(100, this.paceMs * 2));
        }
        await this.wait(retryAfterMs(response) ?? fallbackBackoffMs(attempt));
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

  private async pace(): Promise<void> {
    if (this.paceMs === 0) return;
    const due = this.lastRequestAt + this.paceMs - Date.now();
    if (due > 0) await this.sleep(due);
    this.lastRequestAt = Date.now();
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
function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get("retry-after");
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
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
