// Decides what a browser call to the console may do: signed in through App Service Authentication, with an app role, same origin, JSON actions.
import { errorAnswer, json, type HttpAnswer } from "../service/httpAnswers";
import { consoleAppRoles, decodeClientPrincipal, type ClientPrincipal } from "./clientPrincipal";

/** "view" reads; "act" requests runs and allows deletions. */
export type ConsoleAccess = "view" | "act";

/** Where the console lives and where the platform's sign-in and sign-out endpoints send the browser back to. */
export const consolePath = "/api/console";
export const signInUrl = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(consolePath)}`;
export const signOutUrl = `/.auth/logout?post_logout_redirect_uri=${encodeURIComponent(consolePath)}`;

/** The parts of a Fetch-style request access is decided on; @azure/functions' HttpRequest has them. */
export interface ConsoleRequest {
  method: string;
  url: string;
  headers: Headers;
}

export type ConsoleDecision = { allowed: true; principal: ClientPrincipal; canAct: boolean } | { allowed: false; answer: HttpAnswer };

/** Set only by the local console host (src/cli/consoleHost.ts), in its own process; no setting or header can turn it on. */
let localSignIn = false;

/** App Service sets these on every app it runs (reference-app-settings); their presence means this is not a developer's machine. */
const platformMarkers = ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME"] as const;

/** Lets the local host's development sign-in stand in for App Service Authentication; refuses to on App Service. */
export function enableLocalSignIn(env: Record<string, string | undefined> = process.env): void {
  const marker = platformMarkers.find((name) => env[name]);
  if (marker) throw new Error(`The development sign-in cannot be enabled here: ${marker} is set, so this is App Service, where only App Service Authentication signs people in`);
  localSignIn = true;
}

export function localSignInEnabled(): boolean {
  return localSignIn;
}

/** The client-principal header is the platform's only when App Service Authentication runs, which strips any a client sends. */
export function principalHeaderTrusted(env: Record<string, string | undefined> = process.env): boolean {
  return localSignIn || (env.WEBSITE_AUTH_ENABLED ?? "").toLowerCase() === "true";
}

/** The signed-in caller, when the header can be trusted; undefined otherwise. */
export function signedInPrincipal(request: ConsoleRequest, env: Record<string, string | undefined> = process.env): ClientPrincipal | undefined {
  return principalHeaderTrusted(env) ? decodeClientPrincipal(request.headers.get("x-ms-client-principal")) : undefined;
}

export function canView(principal: ClientPrincipal): boolean {
  return principal.roles.includes(consoleAppRoles.view) || principal.roles.includes(consoleAppRoles.act);
}

export function canAct(principal: ClientPrincipal): boolean {
  return principal.roles.includes(consoleAppRoles.act);
}

/** Decides one console API call; a refusal comes with the answer to send (401 with where to sign in, 403, 415). */
export function decideConsoleAccess(request: ConsoleRequest, access: ConsoleAccess, env: Record<string, string | undefined> = process.env): ConsoleDecision {
  if (!principalHeaderTrusted(env)) {
    return refuse(401, "sign_in_not_configured", "App Service Authentication is not enabled on this Function App, so the console cannot tell who is calling; deploy with the console's sign-in (docs/deploy.md) or call the /api/sync routes with a function key");
  }
  const principal = signedInPrincipal(request, env);
  if (!principal) return { allowed: false, answer: json(401, { error: { code: "unauthenticated", message: "Sign in to use the console", signInUrl } }, { "www-authenticate": 'Bearer realm="entra-table-sync console"' }) };
  const origin = request.headers.get("origin");
  // Browsers send Origin on every POST; a page on another site must not drive the console with the admin's session.
  if (origin !== null && origin !== new URL(request.url).origin) return refuse(403, "cross_origin", `Requests from ${origin} are not accepted; use the console at ${new URL(request.url).origin}${consolePath}`);
  if (!canView(principal)) return refuse(403, "no_console_role", `${principal.name || "This account"} has no console role; an administrator assigns ${consoleAppRoles.view} (view) or ${consoleAppRoles.act} (act) on the sign-in app's enterprise application`);
  if (access === "act" && !canAct(principal)) return refuse(403, "forbidden", `${principal.name || "This account"} may view but not act; requesting runs and allowing deletions needs the ${consoleAppRoles.act} role`);
  if (request.method !== "GET" && request.method !== "HEAD") {
    const mediaType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    // A JSON content type cannot be sent cross-site without a CORS preflight, which this app never grants.
    if (mediaType !== "application/json") return refuse(415, "unsupported_media_type", "Console actions are JSON POSTs: send Content-Type: application/json");
  }
  return { allowed: true, principal, canAct: canAct(principal) };
}

function refuse(status: number, code: string, message: string): ConsoleDecision {
  return { allowed: false, answer: errorAnswer(status, code, message) };
}

/** Wraps an HTTP handler so it runs only for a caller the console lets in; the handler itself is the one automation calls with a key. */
export function consoleEndpoint<R extends ConsoleRequest, C, A>(access: ConsoleAccess, handler: (request: R, context: C) => Promise<A>): (request: R, context: C) => Promise<A | HttpAnswer> {
  return async (request, context) => {
    const decision = decideConsoleAccess(request, access);
    return decision.allowed ? await handler(request, context) : decision.answer;
  };
}

/** GET /api/console/me: the caller and what the console lets them do, so the page shows or hides its actions. */
export function describeSignedIn(request: ConsoleRequest, env: Record<string, string | undefined> = process.env): HttpAnswer {
  const principal = signedInPrincipal(request, env);
  if (!principal) {
    const decision = decideConsoleAccess(request, "view", env);
    return decision.allowed ? errorAnswer(401, "unauthenticated", "Sign in to use the console") : decision.answer;
  }
  return json(200, {
    name: principal.name,
    roles: principal.roles,
    canView: canView(principal),
    canAct: canAct(principal),
    signOutUrl,
    developmentSignIn: localSignIn,
  });
}
