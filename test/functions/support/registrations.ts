// Loads every function file package.json "main" names, recording what each registers with the host instead of starting one.
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";

export const repoRoot = path.resolve(__dirname, "../../../..");

export interface RegisteredBinding {
  type: string;
  direction: string;
  [property: string]: unknown;
}

export interface Registration {
  name: string;
  bindings: Record<string, RegisteredBinding>;
}

/** The registration's trigger binding (httpTrigger, timerTrigger, queueTrigger, …). */
export function triggerOf(registration: Registration): RegisteredBinding {
  const trigger = Object.values(registration.bindings).find((binding) => binding.type.endsWith("Trigger"));
  if (!trigger) throw new Error(`function ${registration.name} registers no trigger`);
  return trigger;
}

/** The files package.json "main" names: the host loads exactly these. */
export function mainFiles(): string[] {
  const main = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { main: string }).main;
  const directory = path.join(repoRoot, path.dirname(main));
  const pattern = new RegExp(`^${path.basename(main).replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$`);
  return fs.readdirSync(directory).filter((file) => pattern.test(file)).map((file) => path.join(directory, file));
}

/** Every function the host would be told about, through @azure/functions' own registration calls. */
export function loadRegistrations(): Registration[] {
  const registrations: Registration[] = [];
  // The worker's core API, which @azure/functions looks up by module name: here it records what the host would receive.
  const fakeCoreApi = {
    setProgrammingModel: () => undefined,
    registerFunction: (metadata: Registration) => {
      registrations.push(metadata);
      return { dispose: () => undefined };
    },
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
  };
  const moduleInternals = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const load = moduleInternals._load;
  moduleInternals._load = function (request, parent, isMain) {
    return request === "@azure/functions-core" ? fakeCoreApi : load.call(this, request, parent, isMain);
  };
  try {
    for (const file of mainFiles()) require(file);
  } finally {
    moduleInternals._load = load;
  }
  return registrations;
}
