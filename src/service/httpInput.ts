// Reads and validates what HTTP callers send, so every mistake becomes a 4xx that says what is wrong before anything runs.
import { z } from "zod";
import { changeObjectTypes, type ChangeObjectType } from "./changeFeed";
import { isRunId } from "./runQueue";

/** A sync request is four small fields; 16 KiB leaves room for whitespace and refuses anything else. */
export const maxRequestBodyBytes = 16 * 1024;
/** The change feed answers at most this many events per page, so a page stays a quick table read and a small response. */
export const maxChangePageSize = 1000;
/** Without a limit a page holds 100 events, the usual page size of Graph list responses. */
const defaultChangePageSize = 100;

/** Tenant ids are GUIDs; callers may write them in either case. */
const guidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const exampleTenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const exampleRunId = "20260101T020000Z-a1b2c3";

/** A request the caller must fix; `status` is always 4xx. */
export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The parts of a Fetch-style request this module reads; @azure/functions' HttpRequest has them. */
export interface RequestLike {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
}

/** Reads a JSON body of at most maxRequestBodyBytes; an empty body reads as {}. */
export async function readJsonBody(request: RequestLike): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxRequestBodyBytes) throw tooLarge();
  const bytes = await readLimited(request.body, maxRequestBodyBytes, tooLarge);
  if (bytes.length === 0) return {};
  const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
  const [mediaType, ...parameters] = contentType.split(";").map((part) => part.trim());
  if (mediaType !== "application/json") throw new ApiError(415, "unsupported_media_type", `Content-Type must be application/json, not ${contentType === "" ? "missing" : JSON.stringify(contentType)}`);
  const charset = parameters.find((parameter) => parameter.startsWith("charset="))?.slice("charset=".length);
  if (charset !== undefined && charset.replace(/"/g, "") !== "utf-8") throw new ApiError(415, "unsupported_media_type", `The body must be UTF-8 JSON, not charset ${charset}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not valid UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads a body of at most maxBytes (declared or streamed); a larger one is refused with 413 before it is all read. */
export async function readBodyBytes(request: RequestLike, maxBytes: number): Promise<Uint8Array> {
  const tooBig = () => new ApiError(413, "payload_too_large", `The body is larger than ${maxBytes} bytes`);
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooBig();
  return await readLimited(request.body, maxBytes, tooBig);
}

async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooBig: () => ApiError): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(): ApiError {
  return new ApiError(413, "payload_too_large", `The body is larger than ${maxRequestBodyBytes} bytes; a sync request needs only mode, dryRun, allowDeletions and tenantId`);
}

const syncRequestSchema = z.strictObject({
  mode: z.enum(["incremental", "full"], { message: 'must be "incremental" or "full"' }).default("incremental"),
  dryRun: z.boolean({ message: "must be true or false" }).default(false),
  allowDeletions: z.boolean({ message: "must be true or false" }).default(false),
  tenantId: z.string({ message: `must be a tenant id (a GUID such as ${exampleTenantId})` }).regex(guidPattern, `must be a tenant id (a GUID such as ${exampleTenantId})`).optional(),
});

export type SyncRequestBody = z.infer<typeof syncRequestSchema>;

/** Validates a POST /api/sync body: known fields only, each with a value it can hold. */
export function parseSyncRequestBody(body: unknown): SyncRequestBody {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError(400, "invalid_body", 'The body must be a JSON object such as {"mode":"incremental"}');
  return parseWith(syncRequestSchema, body, "field");
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, noun: "field" | "query parameter"): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const allowed = Object.keys((schema as unknown as z.ZodObject).shape).filter((name) => name !== "code");
    throw new ApiError(400, `unknown_${noun === "field" ? "field" : "parameter"}`, `Unknown ${noun} ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}; allowed: ${allowed.join(", ")}`);
  }
  throw new ApiError(400, `invalid_${noun === "field" ? "field" : "parameter"}`, `${String(issue.path[0] ?? noun)} ${issue.message}`);
}

/** Picks the tenant a request means: the one given (it must be configured), or the only one configured. */
export function resolveTenant(requested: string | undefined, configured: readonly string[]): string {
  if (requested === undefined) {
    if (configured.length === 1) return configured[0]!;
    throw new ApiError(400, "tenant_required", `tenantId is required because this deployment syncs ${configured.length} tenants: ${configured.join(", ")}`);
  }
  const tenantId = requested.toLowerCase();
  if (!configured.includes(tenantId)) throw new ApiError(404, "unknown_tenant", `Tenant ${tenantId} is not one this deployment syncs (${configured.join(", ")})`);
  return tenantId;
}

/** A run id from a route or query: anything else is refused before it reaches a table. */
export function parseRunId(value: string | undefined, name = "runId"): string {
  if (value === undefined || !isRunId(value)) throw new ApiError(400, "invalid_run_id", `${name} must be a run id such as ${exampleRunId}`);
  return value;
}

/** An ISO 8601 time with seconds optional and a zone required, so "since" never depends on the server's time zone. */
const isoTimePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
const isoTimeMessage = "must be an ISO 8601 time that exists, with a zone, such as 2026-01-01T00:00:00Z";

/** True only for a time that exists: Date.parse takes 30 February or 24:00 and rolls them over, so every field is checked. */
export function isExistingIsoTime(value: string): boolean {
  const match = isoTimePattern.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  if (month! < 1 || month! > 12 || day! < 1) return false;
  // Day 0 of the next month is the last day of this one, leap years included.
  if (day! > new Date(Date.UTC(year!, month!, 0)).getUTCDate()) return false;
  return hour! <= 23 && minute! <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59 && !Number.isNaN(Date.parse(value));
}

/** Every time a query parameter carries: an instant that exists, with its zone. */
export const isoTimeParameter = z.string().refine(isExistingIsoTime, isoTimeMessage);

/** `code` is the function key some callers put in the query string; it is allowed and never read. */
const tenantQuerySchema = z.strictObject({
  tenantId: z.string().regex(guidPattern, `must be a tenant id (a GUID such as ${exampleTenantId})`).optional(),
  code: z.string().optional(),
});

const changesQuerySchema = z.strictObject({
  tenantId: z.string().regex(guidPattern, `must be a tenant id (a GUID such as ${exampleTenantId})`).optional(),
  since: isoTimeParameter.optional(),
  sinceRunId: z.string().refine(isRunId, `must be a run id such as ${exampleRunId}`).optional(),
  until: z
    .string()
    .regex(isoTimePattern, "must be an ISO 8601 time with a zone, such as 2026-01-02T00:00:00Z")
    .refine((value) => !Number.isNaN(Date.parse(value)), "must be an ISO 8601 time with a zone, such as 2026-01-02T00:00:00Z")
    .optional(),
  objectType: z.enum(changeObjectTypes, { message: `must be one of ${changeObjectTypes.join(", ")}` }).optional(),
  runId: z.string().refine(isRunId, `must be a run id such as ${exampleRunId}`).optional(),
  cursor: z.string().max(512, "is not one this API returned").optional(),
  limit: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${maxChangePageSize}`)
    .transform(Number)
    .refine((value) => value >= 1 && value <= maxChangePageSize, `must be a whole number from 1 to ${maxChangePageSize}`)
    .optional(),
  code: z.string().optional(),
});

export interface ChangesQuery {
  tenantId: string | undefined;
  since: string | undefined;
  sinceRunId: string | undefined;
  until: string | undefined;
  objectType: ChangeObjectType | undefined;
  runId: string | undefined;
  cursor: string | undefined;
  limit: number;
}

/** Query parameters as one value each; a repeated parameter is ambiguous and refused. */
function queryObject(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) {
    if (name in values) throw new ApiError(400, "invalid_parameter", `Query parameter ${JSON.stringify(name)} is given more than once`);
    values[name] = value;
  }
  return values;
}

/** The import log answers at most this many runs per page; a run outline is small, so a page stays quick. */
export const maxRunPageSize = 200;
const defaultRunPageSize = 25;

const runsQuerySchema = z.strictObject({
  tenantId: z.string().regex(guidPattern, `must be a tenant id (a GUID such as ${exampleTenantId})`).optional(),
  cursor: z.string().max(512, "is not one this API returned").optional(),
  limit: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${maxRunPageSize}`)
    .transform(Number)
    .refine((value) => value >= 1 && value <= maxRunPageSize, `must be a whole number from 1 to ${maxRunPageSize}`)
    .optional(),
  code: z.string().optional(),
});

export function parseRunsQuery(query: URLSearchParams): { tenantId: string | undefined; cursor: string | undefined; limit: number } {
  const parsed = parseWith(runsQuerySchema, queryObject(query), "query parameter");
  return { tenantId: parsed.tenantId, cursor: parsed.cursor, limit: parsed.limit ?? defaultRunPageSize };
}

export function parseTenantQuery(query: URLSearchParams): { tenantId: string | undefined } {
  return { tenantId: parseWith(tenantQuerySchema, queryObject(query), "query parameter").tenantId };
}

export function parseChangesQuery(query: URLSearchParams): ChangesQuery {
  const parsed = parseWith(changesQuerySchema, queryObject(query), "query parameter");
  const starts = [parsed.since, parsed.sinceRunId].filter((value) => value !== undefined);
  if (starts.length > 1) throw new ApiError(400, "invalid_parameter", "Give since or sinceRunId, not both");
  return { tenantId: parsed.tenantId, since: parsed.since, sinceRunId: parsed.sinceRunId, until: parsed.until, objectType: parsed.objectType, runId: parsed.runId, cursor: parsed.cursor, limit: parsed.limit ?? defaultChangePageSize };
}

/** Who asked, for the run log: the App Service Authentication principal if present; the worker never sees a function key's name. */
export function requesterOf(headers: Headers, url: string): string | undefined {
  const principal = headers.get("x-ms-client-principal-name");
  if (principal && principal.trim() !== "") return principal.trim().slice(0, 256);
  if (headers.has("x-functions-key") || new URL(url).searchParams.has("code")) return "function key";
  return undefined;
}
