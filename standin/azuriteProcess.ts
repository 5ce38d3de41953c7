// Starts Azurite, Microsoft's Table/Queue/Blob emulator, as a child process on free ports for tests, demo and benchmark.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Azurite's documented development account; its key is public and only ever valid against the emulator. */
const devAccount = "devstoreaccount1";
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteInstance {
  connectionString: string;
  tableEndpoint: string;
  queueEndpoint: string;
  blobEndpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" }, () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Azurite did not listen on port ${port} within ${timeoutMs} ms`);
}

export interface StartAzuriteOptions {
  inMemory?: boolean;
  /** V8 old-space limit for Azurite, in MB: in memory, millions of entities can outgrow Node's default heap. */
  maxOldSpaceMb?: number;
  /** Keeps the data in this folder (persistent, not removed on stop) instead of memory or a temporary folder. */
  location?: string;
}

/** Start attempts: a free port can be taken between choosing it and Azurite binding it, and a loaded CI machine can be slow to start. */
const startAttempts = 3;

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new Error(`Azurite did not start in ${startAttempts} attempts: ${failures.join("; ")}`);
}

async function startOnce(options: StartAzuriteOptions): Promise<AzuriteInstance> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const kept = options.location;
  if (kept) mkdirSync(kept, { recursive: true });
  const location = kept ?? mkdtempSync(join(tmpdir(), "azurite-"));
  const script = require.resolve("azurite/dist/src/azurite.js");
  const args = [...(options.maxOldSpaceMb ? [`--max-old-space-size=${options.maxOldSpaceMb}`] : []), script, "--silent", "--skipApiVersionCheck", "--disableTelemetry"];
  args.push("--blobPort", String(blobPort), "--queuePort", String(queuePort), "--tablePort", String(tablePort));
  // Azurite refuses --location together with in-memory persistence; the working directory keeps any stray file out of the repo.
  args.push(...(options.inMemory !== false && !kept ? ["--inMemoryPersistence"] : ["--location", location]));
  const child = spawn(process.execPath, args, { cwd: location, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await Promise.all([waitForPort(tablePort, child, 30_000), waitForPort(queuePort, child, 30_000), waitForPort(blobPort, child, 30_000)]);
    // A port answered but our Azurite died (EADDRINUSE): another process holds it, and tests must not talk to that one.
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} after its ports answered (a port taken by another process)`);
  } catch (error) {
    child.kill();
    if (!kept) rmSync(location, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}${stderr ? `: ${stderr.trim()}` : ""}`);
  }
  const endpoint = (port: number) => `http://127.0.0.1:${port}/${devAccount}`;
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devAccount};AccountKey=${devAccountKey};` +
      `BlobEndpoint=${endpoint(blobPort)};QueueEndpoint=${endpoint(queuePort)};TableEndpoint=${endpoint(tablePort)};`,
    tableEndpoint: endpoint(tablePort),
    queueEndpoint: endpoint(queuePort),
    blobEndpoint: endpoint(blobPort),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill();
        await exited;
      }
      if (!kept) rmSync(location, { recursive: true, force: true });
    },
  };
}
