// A Logger that writes one JSON line per entry to the function invocation's log, so App Insights keeps runId and tenantId on every line.
import { createLogger, type LogLevel, type Logger } from "../logging/logger";

/** The logging half of @azure/functions' InvocationContext. */
export interface InvocationLog {
  invocationId: string;
  functionName: string;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export function invocationLogger(context: InvocationLog, minimum: LogLevel = "info"): Logger {
  // runId and tenantId start as null so every line carries both keys; child loggers fill them in.
  const base = { runId: null, tenantId: null, function: context.functionName, invocationId: context.invocationId };
  return createLogger(
    (level, message, fields) => {
      const line = JSON.stringify({ level, message, ...fields });
      if (level === "error") context.error(line);
      else if (level === "warn") context.warn(line);
      else if (level === "debug") context.debug(line);
      else context.log(line);
    },
    base,
    minimum,
  );
}
