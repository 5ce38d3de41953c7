// Calls the console API on this origin: JSON in and out, a 401 sends the browser to sign in, any other refusal becomes an ApiFailure.

export class ApiFailure extends Error {
  override name = "ApiFailure";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; signInUrl?: string };
}

const base = "/api/console";

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ApiFailure(response.status, "not_json", `The server answered ${response.status} with something that is not JSON`);
  }
  const error = (parsed as ErrorBody).error;
  if (response.status === 401 && error?.signInUrl) {
    window.location.assign(error.signInUrl);
    throw new ApiFailure(401, error.code ?? "unauthenticated", "Signing in…");
  }
  // The connection check answers 503 with its full report when a check failed; that is a result, not a refusal.
  if (!response.ok && !(response.status === 503 && path === "/check")) throw new ApiFailure(response.status, error?.code ?? "error", error?.message ?? `The server answered ${response.status}`);
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body: unknown) => call<T>("POST", path, body),
};

/** Query string from defined values only. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== "") params.set(name, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
