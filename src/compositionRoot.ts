// The one place that turns validated settings into credentials, clients and the engine; everything else receives them.
import { TableClient } from "@azure/data-tables";
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { AuthenticationHandler, Client, HTTPMessageHandler } from "@microsoft/microsoft-graph-client";
import { GraphDeltaReader } from "./graph/graphDeltaReader";
import { emptyGraphMetrics, type GraphMetrics } from "./graph/graphMetrics";
import { createDirectoryCredential } from "./identity/credentialFactory";
import { TenantGuardedCredential, type TokenSource } from "./identity/tenantGuard";
import { FailureCapturingHandler } from "./graph/requestFailure";
import { GraphRequestError } from "./graph/graphErrors";
import { syncErrorIn } from "./errors/syncError";
import type { Logger } from "./logging/logger";
import type { Settings } from "./config/settings";
import { DirectoryStore, type DirectoryTables } from "./store/directoryStore";
import { RunLog } from "./store/runLog";
import { SyncStateStore } from "./store/syncStateStore";
import { directoryTableNames } from "./store/tableNames";
import { emptyStoreMetrics } from "./store/tableWriter";
import type { ChangeSink } from "./sync/pageApplier";
import { ScopePolicy } from "./policy/scopePolicy";
import { SyncEngine, type SyncProgress } from "./sync/syncEngine";

export interface CompositionOptions {
  logger: Logger;
  /** Replaces the credential the settings describe (tests, demo, the CLI's --sign-in). */
  credential?: TokenCredential;
  /** How the replacing credential signs in, for the advice when its token is for another tenant; default the settings' mode. */
  credentialSource?: TokenSource;
  /** Gives up on an unreachable Graph endpoint after about this long (the CLI); default the retry count alone bounds it. */
  unreachableGiveUpMs?: number;
  onProgress?: (progress: SyncProgress) => void;
  /** Replaces waiting on Retry-After (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Replaces Date.now for the purge cutoff (tests). */
  clock?: () => number;
  /** Writes a full read buffers between checkpoints (tests use a small number to see resumes page by page). */
  writeBufferOperations?: number;
  /** Receives each page's change events (the Functions app's change feed). */
  changeSink?: ChangeSink;
}

export interface Composition {
  settings: Settings;
  engine: SyncEngine;
  store: DirectoryStore;
  state: SyncStateStore;
  runLog: RunLog;
  graphClient: Client;
  graphMetrics: GraphMetrics;
  tables: DirectoryTables;
}

export function createTables(settings: Settings): DirectoryTables {
  const names = directoryTableNames(settings.tablePrefix);
  const storage = settings.storage;
  const credential: TokenCredential | undefined =
    "connectionString" in storage ? undefined : storage.clientId ? new ManagedIdentityCredential({ clientId: storage.clientId }) : new DefaultAzureCredential();
  const open = (name: string) =>
    "connectionString" in storage
      ? TableClient.fromConnectionString(storage.connectionString, name, { allowInsecureConnection: storage.connectionString.includes("http://") })
      : new TableClient(storage.tableServiceUri, name, credential!);
  return Object.fromEntries(Object.entries(names).map(([key, name]) => [key, open(name)])) as DirectoryTables;
}

export function createGraphClient(credential: TokenCredential, graphEndpoint: string): Client {
  const scope = `${graphEndpoint}/.default`;
  const authProvider = {
    getAccessToken: async () => {
      const token = await credential.getToken(scope);
      if (!token) throw new Error(`No access token for ${scope}`);
      return token.token;
    },
  };
  // Retries are ours (GraphDeltaReader), so the SDK's own RetryHandler is left out of the chain.
  return Client.initWithMiddleware({
    middleware: [new FailureCapturingHandler(), new AuthenticationHandler(authProvider), new HTTPMessageHandler()],
    baseUrl: graphEndpoint,
    customHosts: new Set([new URL(graphEndpoint).hostname]),
  });
}

export function compose(settings: Settings, options: CompositionOptions): Composition {
  const directoryCredential = options.credential ? undefined : createDirectoryCredential(settings, { logger: options.logger });
  // Every Graph token passes the tenant guard, whichever credential made it.
  const credential = new TenantGuardedCredential(options.credential ?? directoryCredential!, { tenantId: settings.tenantId, source: options.credentialSource ?? settings.credentialMode });
  const graphClient = createGraphClient(credential, settings.graphEndpoint);
  const graphMetrics = emptyGraphMetrics();
  const source = new GraphDeltaReader(graphClient, settings.graphEndpoint, graphMetrics, {
    maxRetries: settings.graphMaxRetries,
    sleep: options.sleep,
    unreachableGiveUpMs: options.unreachableGiveUpMs,
    onUnreachable: (message) => options.logger.warn(message, { tenantId: settings.tenantId }),
  });
  // Before anything is read: the credential's health (secret expiry) and a Graph token of the right tenant.
  const credentialHealth = async (): Promise<string[]> => {
    const warnings = directoryCredential ? await directoryCredential.health() : [];
    try {
      await credential.verify(settings.graphEndpoint);
    } catch (error) {
      if (syncErrorIn(error)) throw error;
      // Worded as the Graph reader words a token failure, so both paths read the same in run records.
      throw new GraphRequestError(`Could not get a Microsoft Graph token for ${settings.graphEndpoint}: ${(error as Error).message}`, undefined, (error as Error).name);
    }
    return warnings;
  };
  const tables = createTables(settings);
  const store = new DirectoryStore(tables, settings.tenantId, emptyStoreMetrics(), settings.writeConcurrency);
  const stateMetrics = emptyStoreMetrics();
  const state = new SyncStateStore(tables.syncState, settings.tenantId, stateMetrics);
  const runLog = new RunLog(tables.runs, settings.tenantId, stateMetrics);
  const engine = new SyncEngine({ tenantId: settings.tenantId, source, store, state, runLog, logger: options.logger, graphMetrics, onProgress: options.onProgress, changeSink: options.changeSink, roleMapping: settings.roleMapping, scope: new ScopePolicy(settings.scope), syncDevices: settings.syncDevices, deletedRetentionDays: settings.deletedRetentionDays, deletionThreshold: settings.deletionThreshold, clock: options.clock, writeBufferOperations: options.writeBufferOperations, credentialHealth });
  return { settings, engine, store, state, runLog, graphClient, graphMetrics, tables };
}
