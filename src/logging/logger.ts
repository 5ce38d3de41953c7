// Structured logging: every line carries the run id and tenant, and nothing that looks like a secret gets through.

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogSink = (level: LogLevel, message: string, fields: Record<string, unknown>) => void;

/** Bearer tokens, JWTs, client secrets and account keys, masked wherever they appear in a message. */
const secretPatterns: RegExp[] = [
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /((?:client_secret|client_assertion|AccountKey|SharedAccessSignature|sig|password)=)[^&;\s"]+/gi,
];

export function redact(text: string, knownSecrets: readonly string[] = []): string {
  let result = text;
  for (const secret of knownSecrets) if (secret.length >= 4) result = result.split(secret).join("[redacted]");
  for (const pattern of secretPatterns) result = result.replace(pattern, (match, prefix?: string) => (typeof prefix === "string" && match.startsWith(prefix) ? `${prefix}[redacted]` : "[redacted]"));
  return result;
}

/** Secrets the process learned at run time (read from Key Vault), masked in every later line. */
export const knownSecrets: string[] = [];

export function createLogger(sink: LogSink, fields: Record<string, unknown> = {}, minimum: LogLevel = "info"): Logger {
  const order: LogLevel[] = ["debug", "info", "warn", "error"];
  const emit = (level: LogLevel, message: string, extra?: Record<string, unknown>) => {
    if (order.indexOf(level) < order.indexOf(minimum)) return;
    const merged = { ...fields, ...extra };
    const safeFields = JSON.parse(redact(JSON.stringify(merged), knownSecrets)) as Record<string, unknown>;
    sink(level, redact(message, knownSecrets), safeFields);
  };
  return {
    debug: (message, extra) => emit("debug", message, extra),
    info: (message, extra) => emit("info", message, extra),
    warn: (message, extra) => emit("warn", message, extra),
    error: (message, extra) => emit("error", message, extra),
    child: (more) => createLogger(sink, { ...fields, ...more }, minimum),
  };
}

/** One JSON object per line on stderr, the shape log collectors expect. */
export const jsonLinesSink: LogSink = (level, message, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
};

export const silentLogger: Logger = createLogger(() => undefined);
