#!/usr/bin/env node
// Command-line entry: runs the same engine as the Functions host, for admins, scripts and the demo.
import { parseArgs } from "node:util";
import { formatCheckReport, runConnectionCheck } from "../check/connectionCheck";
import { loadSettings, SettingsError, settingsForTenant, type Settings } from "../config/settings";
import { runUnderLease } from "../service/leasedRun";
import type { ComposeTenant } from "../service/serviceContext";
import { Interruption } from "./interruption";
import { compose } from "../compositionRoot";
import { createLogger, jsonLinesSink, type Logger } from "../logging/logger";
import { SyncError } from "../errors/syncError";
import type { SignInChoice } from "../identity/workstationSignIn";
import type { SyncProgress } from "../sync/syncEngine";
import { runConsole } from "./consoleHost";
import { runDemo } from "./demo";
import { relaunchTrustingStandIn } from "../../standin/trustedRelaunch";
import { parseDemoOptions } from "./demoOptions";
import { cliCompositionOptions, cliSignIn, expectedFailureLine, openKeptDemo, parseSignIn } from "./cliSession";
import { settingsEnvironment } from "./localSettings";
import { formatRunSummary, formatSuggestions } from "./runReport";
import { runExport } from "./exportCommand";
import { suggestServiceAccounts } from "../policy/serviceAccounts";

const usage = `Usage: entra-sync <command> [options]

Commands:
  sync [--full] [--dry-run] [--allow-deletions] [--json] [--sign-in app|cli|device]
                                       Sync the directory into Table Storage (incremental unless --full); every
                                       configured tenant, one at a time, unless --tenant names one. Exit code 3
                                       when a run for the tenant is already active (it is not started twice),
                                       4 when user deletions above the threshold were held (quarantined);
                                       --allow-deletions applies them; --dry-run writes nothing and shows the plan.
                                       Ctrl-C or SIGTERM stops at the next checkpoint and frees the tenant (exit
                                       code 130 / 143); the next sync resumes
  export [--format json|ndjson] [--demo]
                                       Stream the stored directory (users, groups, devices, members) to
                                       stdout as it reads it, in columns named as in the tables (docs/schema.md,
                                       "Export"); exit code 1 when the output closes early
  status [--json] [--limit N] [--demo] Show recent runs (--limit: how many, 1 to 1000, default 10)
  suggest-exclusions [--json] [--demo] List synced accounts that look like service or system accounts, with globs
                                       for USER_EXCLUDE_PATTERNS and how many accounts each would catch; it only
                                       suggests, it never excludes anyone
  check [--json] [--sign-in app|cli|device]
                                       Check settings, Key Vault, the Graph token and its tenant and permissions, Graph
                                       reads, the scope groups and Table Storage; one line per check with the fix, exit
                                       code 1 on any failure
  console [--role admin|viewer|none] [--port N] [--users N] [--groups N]
                                       Serve the admin console and the HTTP API on this machine against the
                                       built-in sample tenant (Azurite and the Graph stand-in), with a development
                                       sign-in and queued runs worked in this process
  demo [--users N] [--groups N] [--keep]
                                       Run a full and an incremental sync against a built-in sample tenant of N users
                                       (10 to 100000, default 200) and N groups (3 to 10000, default 20); starts Azurite
                                       and a local Microsoft Graph stand-in, needs no Azure account. --keep keeps the
                                       store in .entra-demo/ for status, export and suggest-exclusions with --demo

Options:
  --help                               Show this help
  --json                               Print JSON instead of text (sync, status, suggest-exclusions, check)
  --tenant ID                          The tenant to act on when several are configured (SYNC_TENANTS)
  --sign-in app|cli|device             Who reads Microsoft Graph: app, the deployed ENTRA_CREDENTIAL_MODE; cli, the
                                       account of az login (delegated); device, a device-code sign-in (delegated).
                                       Default: cli on a workstation when the mode needs the managed identity, else app
  --demo                               Read the store demo --keep left in .entra-demo/ instead of the settings
  --verbose                            Log every step as JSON lines on stderr

Settings come from the environment or local.settings.json (see README, "Configuration").`;

/** Every option the CLI accepts; --help names each (a test checks it). */
export const cliOptions = {
  full: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  "allow-deletions": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  limit: { type: "string" },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
  users: { type: "string" },
  groups: { type: "string" },
  keep: { type: "boolean" },
  demo: { type: "boolean" },
  tenant: { type: "string" },
  "sign-in": { type: "string" },
  // No parseArgs default: a defaulted option would look given to commands it does not apply to (demo refuses those).
  format: { type: "string" },
  role: { type: "string" },
  port: { type: "string" },
} as const satisfies Record<string, { type: "boolean" | "string"; default?: boolean }>;

type CliValues = ReturnType<typeof parseArgs<{ options: typeof cliOptions; allowPositionals: true }>>["values"];

function progressPrinter(): (progress: SyncProgress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    // One line a second at most: enough to see a long run move without flooding a log.
    if (now - last < 1000) return;
    last = now;
    process.stderr.write(`  ${progress.stream}: ${progress.pages} pages, ${progress.objects} objects, ${Math.round(progress.objectsPerSecond)}/s\n`);
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: cliOptions });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${usage}\n`);
    return command || values.help ? 0 : 2;
  }
  const logger: Logger = createLogger(values.verbose ? jsonLinesSink : () => undefined);
  if (command === "console") {
    const relaunched = relaunchTrustingStandIn();
    if (relaunched !== undefined) return relaunched;
    const role = values.role;
    if (role !== undefined && role !== "admin" && role !== "viewer" && role !== "none") throw new SettingsError(`--role must be admin, viewer or none, not ${JSON.stringify(role)}`);
    return await runConsole({ port: Number(values.port ?? 7071), users: Number(values.users ?? 200), groups: Number(values.groups ?? 20), role, verbose: values.verbose });
  }
  // Every argument is checked before anything starts (no Azurite left behind by a typo).
  if (command === "demo") return await runDemo(parseDemoOptions(values, positionals));
  const signIn = parseSignIn(values["sign-in"]);
  if (command === "check") {
    // The check validates the settings itself, so a bad one is a failed line rather than an exception.
    const report = await runConnectionCheck(settingsEnvironment(), { logger, signIn, prompt: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheckReport(report)}\n`);
    return report.ok ? 0 : 1;
  }
  if (!["sync", "export", "status", "suggest-exclusions"].includes(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${usage}\n`);
    return 2;
  }
  if (values.demo && command === "sync") throw new SettingsError("--demo reads a kept demo store; sync it with entra-sync demo --keep.");
  const demo = values.demo ? await openKeptDemo() : undefined;
  let storage: Settings["storage"] | undefined;
  try {
    const allSettings = loadSettings(demo?.env ?? settingsEnvironment());
    storage = allSettings.storage;
    return await runCommand(command, values, chooseTenants(allSettings, values.tenant, command === "sync"), logger, signIn);
  } catch (error) {
    // Expected failures (an unreachable store, a refused sign-in) become one line; a bug keeps its stack.
    const line = expectedFailureLine(error, storage);
    if (line === undefined) throw error;
    process.stderr.write(`${line}\n`);
    return error instanceof SettingsError ? 2 : 1;
  } finally {
    await demo?.stop();
  }
}

async function runCommand(command: string, values: CliValues, tenants: Settings[], logger: Logger, signIn: SignInChoice | undefined): Promise<number> {
  if (command === "sync") {
    let code = 0;
    const interruption = new Interruption().listen();
    for (const settings of tenants) {
      if (interruption.exitCode !== undefined) break;
      const onProgress = values.json ? undefined : progressPrinter();
      const session = cliCompositionOptions(cliSignIn(settings, signIn, (line) => process.stderr.write(`${line}\n`)));
      const composeTenant: ComposeTenant = (tenantSettings, options) => compose(tenantSettings, { ...options, onProgress, ...session });
      const request = { mode: values.full ? "full" : "incremental", dryRun: values["dry-run"], allowDeletions: values["allow-deletions"], trigger: "cli", stopSignal: interruption.signal } as const;
      const outcome = await runUnderLease(settings, request, { logger, composeTenant });
      if (!outcome.started) {
        const { holder } = outcome;
        process.stderr.write(`Tenant ${settings.tenantId}: run ${holder.runId} is already ${holder.state} (its lease lasts until ${holder.expiresAt}); not starting another.\n`);
        code = Math.max(code, 3);
        continue;
      }
      const { summary, plan, planEntries } = outcome.result;
      if (summary.status === "paused" && interruption.exitCode !== undefined) {
        process.stderr.write(`${interruption.describeStop(summary, values.tenant ? ` --tenant ${settings.tenantId}` : "")}\n`);
        break;
      }
      if (outcome.continued) process.stderr.write(`Tenant ${settings.tenantId}: continued run ${summary.runId}, which was stopped at a checkpoint.\n`);
      if (outcome.tookOverFrom) process.stderr.write(`Tenant ${settings.tenantId}: took over from run ${outcome.tookOverFrom.runId}, whose lease had expired; resumed from its checkpoint.\n`);
      // A dry run's JSON names everyone in every kind (`planned`); the text and the run record keep the first few per kind.
      const report = summary.dryRun ? { ...summary, plan, planned: planEntries } : { ...summary, plan };
      process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatRunSummary(summary, plan)}\n`);
      if (summary.status === "quarantined") code = Math.max(code, 4);
      else if (summary.status !== "succeeded") code = Math.max(code, 1);
    }
    interruption.dispose();
    return interruption.exitCode ?? code;
  }
  const settings = tenants[0]!;
  const composition = compose(settings, { logger });
  if (command === "export") return await runExport(composition, values.format ?? "json");
  if (command === "suggest-exclusions") {
    const report = await suggestServiceAccounts(composition.store);
    if (values.json) process.stdout.write(`${JSON.stringify({ tenantId: settings.tenantId, ...report }, null, 2)}\n`);
    else process.stdout.write(`${formatSuggestions(report)}\n`);
    return 0;
  }
  const limit = Number(values.limit ?? 10);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new SettingsError("--limit must be a whole number from 1 to 1000.");
  const runs = await composition.runLog.listRecent(limit);
  if (values.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
  else process.stdout.write(runs.length === 0 ? "No runs yet.\n" : `${runs.map((run) => formatRunSummary(run)).join("\n\n")}\n`);
  return 0;
}

/** sync goes through every configured tenant unless --tenant names one; export and status need one when there are several. */
function chooseTenants(settings: Settings, tenant: string | undefined, all: boolean): Settings[] {
  if (tenant !== undefined) {
    const chosen = settingsForTenant(settings, tenant);
    if (!chosen) throw new SettingsError(`--tenant ${tenant} is not a tenant this deployment syncs; configured: ${settings.tenants.map((t) => t.tenantId).join(", ")}.`);
    return [chosen];
  }
  if (all) return settings.tenants.map((t) => settingsForTenant(settings, t.tenantId)!);
  if (settings.tenants.length > 1) throw new SettingsError(`Several tenants are configured; pass --tenant with one of: ${settings.tenants.map((t) => t.tenantId).join(", ")}.`);
  return [settings];
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      // Settings, argument and other expected errors are the user's to fix: one line, no stack.
      const line = expectedFailureLine(error, undefined);
      process.stderr.write(line !== undefined ? `${line}\n` : `entra-sync failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      // Exit code 2 for what the caller typed or set, 1 for what failed.
      process.exit(error instanceof SettingsError || (line !== undefined && !(error instanceof SyncError)) ? 2 : 1);
    },
  );
}
