// Reads local.settings.json the way the Functions host does, so the CLI and the host see the same settings.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Process environment first, then the Values of local.settings.json in the working directory. */
export function settingsEnvironment(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const file = resolve(cwd, "local.settings.json");
  if (!existsSync(file)) return { ...env };
  let values: Record<string, unknown> = {};
  try {
    values = (JSON.parse(readFileSync(file, "utf8")) as { Values?: Record<string, unknown> }).Values ?? {};
  } catch (error) {
    throw new Error(`local.settings.json is not valid JSON: ${(error as Error).message}`);
  }
  const merged: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) if (typeof value === "string") merged[name] = value;
  return { ...merged, ...env };
}
