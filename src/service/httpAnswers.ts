// Turns results and errors into HTTP answers: JSON bodies, 4xx with { error: { code, message } }, and a logged 500 for the unexpected.
import { SettingsError } from "../config/settings";
import type { Logger } from "../logging/logger";
import { ApiError } from "./httpInput";

/** The shape @azure/functions accepts as an HTTP function's return value. */
export interface HttpAnswer {
  status: number;
  jsonBody?: unknown;
  /** A body that is not JSON: the console's page and assets. */
  body?: Buffer | string;
  headers?: Record<string, string>;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer {
  // Status and run state change from one request to the next; a cached answer would mislead.
  return { status, jsonBody: body, headers: { "cache-control": "no-store", ...headers } };
}

export function errorAnswer(status: number, code: string, message: string): HttpAnswer {
  return json(status, { error: { code, message } });
}

/** Runs an HTTP handler's work; an ApiError becomes its 4xx, anything else a 500 whose detail goes to the log only. */
export async function answer(logger: Logger, work: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError) {
      logger.info(`Refused a request: ${error.status} ${error.code}: ${error.message}`);
      return errorAnswer(error.status, error.code, error.message);
    }
    if (error instanceof SettingsError) {
      logger.error(error.message);
      return errorAnswer(500, "configuration_error", error.message);
    }
    logger.error(`Request failed: ${(error as Error).name}: ${(error as Error).message}`);
    return errorAnswer(500, "internal_error", "The request could not be completed; the function's log has the details");
  }
}

/** Where a run's state can be read, on the host the caller used. */
export function runStatusUrl(requestUrl: string, runId: string): string {
  return `${new URL(requestUrl).origin}/api/sync/runs/${runId}`;
}
