// Loads the compiled function files as the Functions host would and keeps each HTTP function's route, methods, auth level and handler.
import { readdirSync } from "node:fs";
import Module from "node:module";
import path from "node:path";

export interface LocalHttpFunction {
  name: string;
  route: string;
  methods: string[];
  authLevel: "anonymous" | "function" | "admin";
  handler: (...args: unknown[]) => unknown;
  /** The route as a whole-path pattern under /api/; route parameters become named groups. */
  pattern: RegExp;
  /** Literal routes win over parameterised ones, as in the host's router. */
  parameters: number;
}

interface CoreMetadata {
  name: string;
  bindings: Record<string, { type: string; route?: string; methods?: string[]; authLevel?: string }>;
}

/** host.json leaves extensions.http.routePrefix at its default. */
const routePrefix = "api";

/** Requires every dist/functions/*.js with a stand-in for the worker's core API that records the registrations. */
export function loadHttpFunctions(functionsDir: string): LocalHttpFunction[] {
  const found: LocalHttpFunction[] = [];
  const fakeCoreApi = {
    setProgrammingModel: () => undefined,
    registerFunction: (metadata: CoreMetadata, handler: (...args: unknown[]) => unknown) => {
      const trigger = Object.values(metadata.bindings).find((binding) => binding.type === "httpTrigger");
      if (trigger) {
        const route = trigger.route ?? metadata.name;
        const { pattern, parameters } = routePattern(route);
        found.push({ name: metadata.name, route, methods: (trigger.methods ?? ["GET", "POST"]).map((method) => method.toUpperCase()), authLevel: (trigger.authLevel ?? "function") as LocalHttpFunction["authLevel"], handler, pattern, parameters });
      }
      return { dispose: () => undefined };
    },
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
  };
  const internals = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const load = internals._load;
  internals._load = function (request, parent, isMain) {
    return request === "@azure/functions-core" ? fakeCoreApi : load.call(this, request, parent, isMain);
  };
  try {
    for (const file of readdirSync(functionsDir).filter((name) => name.endsWith(".js")).sort()) require(path.join(functionsDir, file));
  } finally {
    internals._load = load;
  }
  return found.sort((a, b) => a.parameters - b.parameters);
}

function routePattern(route: string): { pattern: RegExp; parameters: number } {
  let parameters = 0;
  const body = route
    .split("/")
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      parameters++;
      return `(?<${parameter[1]}>[^/]+)`;
    })
    .join("/");
  return { pattern: new RegExp(`^/${routePrefix}/${body}$`, "i"), parameters };
}

/** The function answering a path and method, with its route parameters decoded; undefined when none does. */
export function matchFunction(functions: readonly LocalHttpFunction[], method: string, pathname: string): { fn: LocalHttpFunction; params: Record<string, string> } | { methodNotAllowed: true } | undefined {
  let pathMatched = false;
  for (const fn of functions) {
    const match = fn.pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (!fn.methods.includes(method)) continue;
    const params = Object.fromEntries(Object.entries(match.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)]));
    return { fn, params };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}
