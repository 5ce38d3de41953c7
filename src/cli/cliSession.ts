// What a CLI command runs against: the settings (or a kept demo store), who reads Graph, and the CLI's patience with unreachable endpoints.
import { join } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { SettingsError, type Settings } from "../config/settings";
import type { CompositionOptions } from "../compositionRoot";
import { syncErrorIn } from "../errors/syncError";
import { defaultSignIn, signInChoices, workstationCredential, type SignInChoice } from "../identity/workstationSignIn";
import type { TokenSource } from "../identity/tenantGuard";
import { explainStorageFailure } from "../store/storageFailure";
import { startAzurite } from "../../standin/azuriteProcess";
import { keptDemoDir, readKeptDemo } from "./demoOptions";

/** The CLI gives up on an endpoint that does not answer after about this long; the Functions app retries longer. */
export const cliUnreachableGiveUpMs = 25_000;

export function parseSignIn(value: string | undefined): SignInChoice | undefined {
  if (value === undefined) return undefined;
  if (!(signInChoices as readonly string[]).includes(value)) throw new SettingsError(`--sign-in must be one of ${signInChoices.join(", ")}, got "${value}".`);
  return value as SignInChoice;
}

export interface CliSignIn {
  credential: TokenCredential | undefined;
  credentialSource: TokenSource | undefined;
}

/** The Graph credential for a CLI command: the admin's own sign-in when asked (or when the deployed mode needs the managed identity and this is no Azure host). */
export function cliSignIn(settings: Settings, requested: SignInChoice | undefined, say: (line: string) => void): CliSignIn {
  const choice = requested ?? defaultSignIn(settings);
  const workstation = workstationCredential(choice, settings, { prompt: say });
  if (!workstation) return { credential: undefined, credentialSource: undefined };
  say(workstation.notice);
  return { credential: workstation.credential, credentialSource: workstation.source };
}

/** Composition options every CLI command shares. */
export function cliCompositionOptions(signIn: CliSignIn): Pick<CompositionOptions, "credential" | "credentialSource" | "unreachableGiveUpMs"> {
  return { ...signIn, unreachableGiveUpMs: cliUnreachableGiveUpMs };
}

/** Settings for a kept demo store, with Azurite running on it until stop(). */
export async function openKeptDemo(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const demo = readKeptDemo();
  const azurite = await startAzurite({ location: join(keptDemoDir(), "azurite") });
  return { env: { ENTRA_TENANT_ID: demo.tenantId, DirectoryStorage: azurite.connectionString, TABLE_PREFIX: demo.tablePrefix }, stop: () => azurite.stop() };
}

/** The one line an expected failure prints (no stack), or undefined for a bug, which keeps its stack. */
export function expectedFailureLine(error: unknown, storage: Settings["storage"] | undefined): string | undefined {
  if (error instanceof SettingsError) return error.message;
  const explained = syncErrorIn(error) ?? (storage ? explainStorageFailure(error, storage) : undefined);
  if (explained) return `${explained.message} [${explained.code}]`;
  if (error instanceof Error && String((error as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS")) return error.message;
  return undefined;
}
