// Starts Azurite and the Graph stand-in for a test file and composes the real engine against them.
import { ClientSecretCredential } from "@azure/identity";
import { resolve } from "node:path";
import { loadSettings, type Settings } from "../../src/config/settings";
import type { ChangeEvent, ChangeSink } from "../../src/directory/changeEvents";
import { compose, type Composition } from "../../src/compositionRoot";
import { createLogger, type LogLevel } from "../../src/logging/logger";
import { startAzurite, type AzuriteInstance } from "../../standin/azuriteProcess";
import { DirectoryModel } from "../../standin/directoryModel";
import { GraphStandIn, type StandInOptions } from "../../standin/graphStandIn";

export const certDir = resolve(__dirname, "../../../.standin");
export const standInClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };

export interface LogLine {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

export interface TestEnvironment {
  azurite: AzuriteInstance;
  standIn: GraphStandIn;
  model: DirectoryModel;
  logs: LogLine[];
  /** Settings for a fresh table prefix, so tests in one file do not see each other's tables. */
  settings(extra?: Record<string, string>): Settings;
  /** A new composition, as a new process would build it; `sleeps` records Retry-After waits instead of spending them. */
  compose(settings: Settings, options?: ComposeOptions): Composition;
  stop(): Promise<void>;
}

export interface ComposeOptions {
  /** Records Retry-After waits instead of spending them. */
  sleeps?: number[];
  /** Builds the Graph credential from the settings' credential mode (managed identity, Key Vault…) instead of the stand-in's client secret. */
  credentialFromSettings?: boolean;
  /** Receives the change events the engine records. */
  changeSink?: ChangeSink;
  /** The engine's clock for the purge of soft-deleted objects. */
  clock?: () => number;
  /** Writes a full read buffers between checkpoints. */
  writeBufferOperations?: number;
}

let prefixCounter = 0;
/** One, so full reads in tests checkpoint every page and crash tests can count resumed pages; buffering has its own test. */
export const testWriteBuffer = 1;

export async function startEnvironment(options: { model?: DirectoryModel; standIn?: Partial<StandInOptions> } = {}): Promise<TestEnvironment> {
  const azurite = await startAzurite();
  const model = options.model ?? DirectoryModel.generate({ seed: 7, users: 60, groups: 12 });
  const standIn = await GraphStandIn.start({ certDir, model, ...options.standIn });
  const logs: LogLine[] = [];
  const logger = createLogger((level, message, fields) => logs.push({ level, message, fields }), {}, "debug");
  return {
    azurite,
    standIn,
    model,
    logs,
    settings: (extra = {}) =>
      loadSettings({
        ENTRA_TENANT_ID: standIn.tenantId,
        ENTRA_CREDENTIAL_MODE: "managedIdentity",
        GRAPH_ENDPOINT: standIn.url,
        AUTHORITY_HOST: standIn.url,
        DirectoryStorage: azurite.connectionString,
        TABLE_PREFIX: `t${process.pid}x${++prefixCounter}`,
        ...extra,
      }),
    compose: (settings, composeOptions = {}) => {
      const credential = composeOptions.credentialFromSettings
        ? undefined
        : new ClientSecretCredential(settings.tenantId, standInClient.clientId, standInClient.clientSecret, {
            authorityHost: settings.authorityHost,
            disableInstanceDiscovery: true,
          });
      const sleeps = composeOptions.sleeps;
      return compose(settings, {
        logger,
        credential,
        sleep: sleeps ? async (ms) => void sleeps.push(ms) : async () => undefined,
        changeSink: composeOptions.changeSink,
        clock: composeOptions.clock,
        writeBufferOperations: composeOptions.writeBufferOperations ?? testWriteBuffer,
      });
    },
    stop: async () => {
      await standIn.stop();
      await azurite.stop();
    },
  };
}

/** A change sink that keeps every event, for tests that read the change feed. */
export function collectingSink(): ChangeSink & { events: ChangeEvent[] } {
  const events: ChangeEvent[] = [];
  return { events, record: async (batch) => void events.push(...batch) };
}
