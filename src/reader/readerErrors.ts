// Errors the reader library throws: one root class with a stable code, so callers can branch without parsing messages.

export type ReaderErrorCode = "invalidInput" | "notSynced" | "unsupportedSchema";

export class ReaderError extends Error {
  override name = "ReaderError";
  constructor(
    readonly code: ReaderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An argument the reader refuses before any request: a malformed id, an over-long value, an unknown member type, a foreign cursor. */
export class InvalidReaderInputError extends ReaderError {
  override name = "InvalidReaderInputError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalidInput", message, options);
  }
}

/** The store was never synced, or was written in a schema version this reader does not read. */
export class StoreSchemaError extends ReaderError {
  override name = "StoreSchemaError";
  constructor(
    code: "notSynced" | "unsupportedSchema",
    message: string,
    readonly storeVersion: number | undefined,
    readonly readerVersion: number,
  ) {
    super(code, message);
  }
}
