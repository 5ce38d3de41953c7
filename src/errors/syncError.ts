// The one root of the errors an admin has to act on: a stable code to match on, a one-line message naming the thing and the fix, and the cause kept.

/** Stable codes: logs, alerts and scripts match on these, never on the wording. */
export type SyncErrorCode =
  | "settings.invalid"
  | "tenant.mismatch"
  | "keyVault.secretNotFound"
  | "keyVault.secretDisabled"
  | "keyVault.secretExpired"
  | "keyVault.forbidden"
  | "keyVault.unreachable"
  | "keyVault.malformed"
  | "signIn.tenantNotFound"
  | "signIn.unknownClient"
  | "signIn.invalidSecret"
  | "signIn.secretExpired"
  | "signIn.certificateRejected"
  | "signIn.federationRejected"
  | "signIn.unavailable"
  | "signIn.notCompleted"
  | "network.dnsFailure"
  | "network.connectionRefused"
  | "network.tlsFailure"
  | "network.unreachable"
  | "storage.unreachable";

export interface SyncErrorOptions {
  /** What to do about it, when the message does not already say. */
  fix?: string;
  cause?: unknown;
}

export class SyncError extends Error {
  override name = "SyncError";
  readonly fix: string | undefined;

  constructor(
    readonly code: SyncErrorCode,
    message: string,
    options: SyncErrorOptions = {},
  ) {
    super(options.fix ? `${message} ${options.fix}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.fix = options.fix;
  }
}

/** The SyncError anywhere in a chain of causes (SDKs wrap what a credential threw). */
export function syncErrorIn(error: unknown): SyncError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof SyncError) return current;
  }
  return undefined;
}

/** How a failure reads in a run record or log line: an explained one by its message and code, anything else by name and message. */
export function describeFailure(error: unknown): string {
  const explained = syncErrorIn(error);
  if (explained) return `${explained.message} [${explained.code}]`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
