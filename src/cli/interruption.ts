// Turns Ctrl-C and SIGTERM into "stop at the next checkpoint": the run saves its place, releases the tenant's lease, and the CLI says how to resume.
import type { SyncRunSummary } from "../sync/syncRun";

/** Shell convention: 128 + the signal's number. */
const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof exitCodes;

export class Interruption {
  private readonly controller = new AbortController();
  private received: StopSignal | undefined;
  private readonly handlers = new Map<StopSignal, () => void>();

  constructor(private readonly stderr: NodeJS.WritableStream = process.stderr) {}

  /** Aborted at the first SIGINT or SIGTERM. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The exit code for the signal received, undefined when none came. */
  get exitCode(): number | undefined {
    return this.received && exitCodes[this.received];
  }

  listen(): this {
    for (const name of Object.keys(exitCodes) as StopSignal[]) {
      const handler = () => this.receive(name);
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
    return this;
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
    this.handlers.clear();
  }

  /** What the admin reads after a stopped run: where it stopped and the one command that carries on. */
  describeStop(summary: SyncRunSummary, tenantArgument: string): string {
    const at = Object.entries(summary.streams).map(([stream, progress]) => `${stream} page ${progress?.pages ?? 0}`).join(", ");
    const resume = summary.dryRun ? "A dry run writes no checkpoint; run it again to see the whole plan." : `Resume with: entra-sync sync${tenantArgument} (it carries on from the checkpoint, under the same run id).`;
    return `Run ${summary.runId} of tenant ${summary.tenantId} stopped on ${this.received ?? "a signal"} at a checkpoint (${at}) and released the tenant's lease. ${resume}`;
  }

  private receive(name: StopSignal): void {
    if (this.received) {
      // The second signal is the admin insisting: quit now; the lease lapses after SYNC_LEASE_TTL_SECONDS.
      this.stderr.write(`${name} again: quitting now. The tenant stays locked until its lease expires (SYNC_LEASE_TTL_SECONDS); the next sync then resumes from the last checkpoint.\n`);
      process.exit(exitCodes[name]);
    }
    this.received = name;
    this.stderr.write(`${name}: stopping at the next checkpoint and releasing the tenant's lease (${name} again quits at once).\n`);
    this.controller.abort();
  }
}
