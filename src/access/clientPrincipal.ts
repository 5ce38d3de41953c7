// Reads the caller App Service Authentication signed in, from the client-principal header the platform sets on each request.

/** The app roles of the sign-in app registration (infra/app/signin.bicep); a test checks the Bicep declares the same values. */
export const consoleAppRoles = {
  /** May request runs (Sync now, full resync, Test run) and allow held deletions; sees everything a viewer sees. */
  act: "Sync.Admin",
  /** May read status, runs, changes, scope and the connection check. */
  view: "Sync.Viewer",
} as const;

/** The claim type Microsoft Entra uses for app roles in ID and access tokens; the header keeps it after claim mapping. */
const rolesClaimType = "roles";
/** A principal header is a few KiB of claims; anything far larger is not one the platform wrote. */
const maxPrincipalHeaderLength = 32 * 1024;

export interface ClientPrincipal {
  /** Identity provider, "aad" for Microsoft Entra. */
  identityProvider: string;
  /** What the header's name claim says: the user principal name for a person, the app id for a client. */
  name: string;
  /** Object id of the user or service principal, when the token carried it. */
  objectId: string | undefined;
  /** App role values assigned to the caller for the sign-in app. */
  roles: string[];
}

/** The decoded X-MS-CLIENT-PRINCIPAL payload (configure-authentication-user-identities, "Decoding the client principal header"). */
interface PrincipalPayload {
  auth_typ?: unknown;
  claims?: unknown;
  name_typ?: unknown;
  role_typ?: unknown;
}

const objectIdClaimTypes = ["http://schemas.microsoft.com/identity/claims/objectidentifier", "oid"];

/** Decodes the header; undefined when it is missing or not a client principal, which callers treat as not signed in. */
export function decodeClientPrincipal(header: string | null | undefined): ClientPrincipal | undefined {
  if (!header || header.length > maxPrincipalHeaderLength) return undefined;
  let payload: PrincipalPayload;
  try {
    payload = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as PrincipalPayload;
  } catch {
    return undefined;
  }
  if (typeof payload !== "object" || payload === null || !Array.isArray(payload.claims)) return undefined;
  const claims = payload.claims.filter((claim): claim is { typ: string; val: string } => typeof claim === "object" && claim !== null && typeof claim.typ === "string" && typeof claim.val === "string");
  const nameType = typeof payload.name_typ === "string" ? payload.name_typ : "name";
  const roleTypes = new Set([rolesClaimType, ...(typeof payload.role_typ === "string" ? [payload.role_typ] : [])]);
  const first = (types: string[]) => claims.find((claim) => types.includes(claim.typ))?.val;
  return {
    identityProvider: typeof payload.auth_typ === "string" ? payload.auth_typ : "",
    name: first([nameType, "preferred_username", "name"]) ?? "",
    objectId: first(objectIdClaimTypes),
    roles: [...new Set(claims.filter((claim) => roleTypes.has(claim.typ)).map((claim) => claim.val))],
  };
}

/** Writes a principal the way the platform does; the local console host and tests use it to stand in for App Service. */
export function encodeClientPrincipal(principal: Omit<ClientPrincipal, "identityProvider">): string {
  const claims = [
    { typ: "name", val: principal.name },
    { typ: "preferred_username", val: principal.name },
    ...(principal.objectId ? [{ typ: objectIdClaimTypes[0]!, val: principal.objectId }] : []),
    ...principal.roles.map((role) => ({ typ: rolesClaimType, val: role })),
  ];
  const payload = { auth_typ: "aad", claims, name_typ: "name", role_typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role" };
  return Buffer.from(JSON.stringify(payload), "utf8").toString("base64");
}
