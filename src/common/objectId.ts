// Directory object ids and tenant ids are GUIDs; one pattern, below every layer that checks one.

/** A GUID in Entra's lower-case form (object ids as Graph returns them). */
export const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Directory object ids are GUIDs; anything else is rejected before it can reach a key. */
export function isObjectId(value: unknown): value is string {
  return typeof value === "string" && guidPattern.test(value);
}
