// The change feed's RowKey form and the opaque cursor callers hand back, shared by the Functions API and the reader library.

/** RowKey `${at}_${runId}_${digest}`: time first, so a time range is a key range and pages come in order. */
export const changeRowKeyPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z_\d{8}T\d{6}Z-[0-9a-f]{6}_[0-9a-f]{16}$/;

export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

export function encodeCursor(rowKey: string): string {
  return Buffer.from(rowKey, "utf8").toString("base64url");
}

/** Cursors come from callers, so only a well-formed row key ever reaches a filter. */
export function decodeCursor(cursor: string): string {
  const rowKey = typeof cursor === "string" && cursor.length <= 200 ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (!changeRowKeyPattern.test(rowKey)) throw new InvalidCursorError("cursor is not one this API returned; pass nextCursor from the previous page unchanged");
  return rowKey;
}
