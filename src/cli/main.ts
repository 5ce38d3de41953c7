#!/usr/bin/env node
// Command-line entry: runs the same engine as the Functions host, for admins, scripts and the demo.
import { parseArgs } from "node:util";
import { formatCheckReport, runConnectionCheck } from "../check/connectionCheck";
import { loadSettings, SettingsError, settingsForTenant, type Settings } from "../config/settings";
import { runUnderLease } from "../service/leasedRun";
import { compose } from "../compositionRoot";
import { createLogger, jsonLinesSink, type Logger } from "../logging/logger";
import type { SyncProgress } from "../sync/syncEngine";
import { runConsole } from "./consoleHost";
import { runDemo } from "./demo";
import { relaunchTrustingStandIn } from "../../standin/trustedRelaunch";
import { settingsEnvironment } from "./localSettings";
import { formatRunSummary, formatSuggestions } from "./runReport";
import { suggestServiceAccounts } from "../policy/serviceAccounts";

const usage = `Usage: entra-sync <command> [options]

Commands:
  sync [--full] [--dry-run] [--allow-deletions] [--json]
                                       Sync the directory into Table Storage (incremental unless --full); every
                                       configured tenant, one at a time, unless --tenant names one. Exit code 3
                                       when a run for the tenant is already active (it is not started twice),
                                       4 when user deletions above the threshold were held (quarantined);
                                       --allow-deletions applies them
  export                               Print the stored directory as JSON (users, groups, memberships)
  status [--json] [--limit N]          Show recent runs
  suggest-exclusions [--json]          List synced accounts that look like service or system accounts, with globs
                                       for USER_EXCLUDE_PATTERNS and how many accounts each would catch; it only
                                       suggests, it never excludes anyone
  check [--json]                       Check settings, Key Vault, the Graph token and its permissions, Graph reads,
                                       the scope groups and Table Storage; one line per check with the fix, exit code 1 on any failure
  console [--role admin|viewer] [--port N]
                                       Serve the admin console and the HTTP API on this machine against the
                                       built-in sample tenant (Azurite and the Graph stand-in), with a development
                                       sign-in and queued runs worked in this process
  demo                                 Run a full and an incremental sync against a built-in sample tenant
                                       (starts Azurite and a local Microsoft Graph stand-in; needs no Azure account)

Options:
  --help                               Show this help
  --tenant ID                          The tenant to act on when several are configured (SYNC_TENANTS)
  --verbose                            Log every step as JSON lines on stderr

Settings come from the environment or local.settings.json (see README, "Configuration").`;

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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      full: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      "allow-deletions": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      limit: { type: "string" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      users: { type: "string" },
      groups: { type: "string" },
      tenant: { type: "string" },
      role: { type: "string" },
      port: { type: "string" },
    },
  });
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
  if (command === "demo") return await runDemo({ users: Number(values.users ?? 200), groups: Number(values.groups ?? 20), verbose: values.verbose });
  if (command === "check") {
    // The check validates the settings itself, so a bad one is a failed line rather than an exception.
    const report = await runConnectionCheck(settingsEnvironment(), { logger });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheckReport(report)}\n`);
    return report.ok ? 0 : 1;
  }
  if (!["sync", "export", "status", "suggest-exclusions"].includes(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${usage}\n`);
    return 2;
  }
  const allSettings = loadSettings(settingsEnvironment());
  const tenants = chooseTenants(allSettings, values.tenant, command === "sync");
  if (command === "sync") {
    let code = 0;
    for (const settings of tenants) {
      const composition = compose(settings, { logger, onProgress: values.json ? undefined : progressPrinter() });
      const outcome = await runUnderLease(composition, { mode: values.full ? "full" : "incremental", dryRun: values["dry-run"], allowDeletions: values["allow-deletions"], trigger: "cli" }, logger);
      if (!outcome.started) {
        const { holder } = outcome;
        process.stderr.write(`Tenant ${settings.tenantId}: run ${holder.runId} is already ${holder.state} (its lease lasts until ${holder.expiresAt}); not starting another.\n`);
        code = Math.max(code, 3);
        continue;
      }
      const { summary, plan } = outcome.result;
      if (outcome.tookOverFrom) process.stderr.write(`Tenant ${settings.tenantId}: took over from run ${outcome.tookOverFrom.runId}, whose lease had expired; resumed from its checkpoint.\n`);
      process.stdout.write(values.json ? `${JSON.stringify({ ...summary, plan }, null, 2)}\n` : `${formatRunSummary(summary, plan)}\n`);
      if (summary.status === "quarantined") code = Math.max(code, 4);
      else if (summary.status !== "succeeded") code = Math.max(code, 1);
    }
    return code;
  }
  const settings = tenants[0]!;
  const composition = compose(settings, { logger });
  if (command === "export") {
    const snapshot = await composition.store.snapshot();
    process.stdout.write(`${JSON.stringify({ tenantId: settings.tenantId, exportedAt: new Date().toISOString(), ...snapshot }, null, 2)}\n`);
    return 0;
  }
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
      // Settings and argument errors are the user's to fix: one line, no stack.
      const known = error instanceof SettingsError || (error instanceof Error && "code" in error && String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS"));
      process.stderr.write(known ? `${(error as Error).message}\n` : `entra-sync failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}
