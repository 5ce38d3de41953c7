// Validates the demo's arguments before anything starts, and finds the store a kept demo left behind.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { SettingsError } from "../config/settings";

export interface DemoOptions {
  users: number;
  groups: number;
  verbose: boolean;
  /** Keep the synced store in keptDemoDir so status, export and suggest-exclusions can be tried on it. */
  keep: boolean;
}

/** The demo changes four users and three groups between its runs; the upper bounds keep a demo a demo (the benchmark goes further). */
const demoLimits = { users: { min: 10, max: 100_000 }, groups: { min: 3, max: 10_000 } };
const demoFlags = new Set(["users", "groups", "keep", "verbose", "help"]);

/** Throws a one-line SettingsError (exit code 2) for anything the demo would not use as asked. */
export function parseDemoOptions(values: Record<string, unknown>, positionals: readonly string[]): DemoOptions {
  if (positionals.length > 1) throw new SettingsError(`demo takes no arguments, got "${positionals.slice(1).join(" ")}"; size it with --users N --groups N.`);
  for (const [name, value] of Object.entries(values)) {
    if (!demoFlags.has(name) && value !== undefined && value !== false) throw new SettingsError(`--${name} does not apply to demo; demo takes --users N, --groups N, --keep and --verbose.`);
  }
  const count = (name: "users" | "groups", fallback: number): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const { min, max } = demoLimits[name];
    const value = Number(text);
    if (!/^\d+$/.test(String(text)) || value < min || value > max) throw new SettingsError(`--${name} must be a whole number from ${min} to ${max}, got "${String(text)}".`);
    return value;
  };
  const users = count("users", 200);
  const groups = count("groups", 20);
  if (groups > users) throw new SettingsError(`--groups (${groups}) must not exceed --users (${users}).`);
  return { users, groups, verbose: values["verbose"] === true, keep: values["keep"] === true };
}

/** Where `demo --keep` leaves the store: Azurite's files and the settings that read them. */
export function keptDemoDir(cwd: string = process.cwd()): string {
  return resolve(cwd, ".entra-demo");
}

export interface KeptDemo {
  tenantId: string;
  tablePrefix: string;
}

export function readKeptDemo(cwd: string = process.cwd()): KeptDemo {
  const file = resolve(keptDemoDir(cwd), "demo.json");
  if (!existsSync(file)) throw new SettingsError(`--demo reads the store a kept demo left in ${keptDemoDir(cwd)}, and there is none: run entra-sync demo --keep first.`);
  return JSON.parse(readFileSync(file, "utf8")) as KeptDemo;
}
