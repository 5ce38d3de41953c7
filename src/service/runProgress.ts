// Writes a working run's pages and objects read onto its request record, at most once a second, so the console shows it moving.
import type { Logger } from "../logging/logger";
import type { SyncProgress } from "../sync/syncEngine";
import type { RunProgress, RunRequestLog } from "./runRequests";

/** Often enough for a progress bar to move, rarely enough that a 100,000-user read adds a few hundred small writes at most. */
export const progressWriteIntervalMs = 1000;

export interface ProgressRecorderOptions {
  tenantId: string;
  runId: string;
  clock: () => number;
  logger: Logger;
}

export class ProgressRecorder {
  private readonly streams: RunProgress["streams"] = {};
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly requests: RunRequestLog,
    private readonly options: ProgressRecorderOptions,
  ) {}

  /** The engine's onProgress: remembers the stream's counts and writes them when a second has passed and no write is in flight. */
  readonly record = (progress: SyncProgress): void => {
    this.streams[progress.stream] = { pages: progress.pages, objects: progress.objects };
    const now = this.options.clock();
    if (this.writing || now - this.lastWriteAt < progressWriteIntervalMs) return;
    this.lastWriteAt = now;
    const snapshot: RunProgress = { streams: { ...this.streams }, updatedAt: new Date(now).toISOString() };
    // Progress is a courtesy: a failed write is logged and never fails the run.
    this.writing = this.requests
      .update(this.options.tenantId, this.options.runId, { progress: snapshot })
      .catch((error: unknown) => this.options.logger.warn(`Could not record the run's progress: ${(error as Error).message}`))
      .finally(() => (this.writing = undefined));
  };

  /** Waits for a write in flight, so nothing writes the record after the run's final update. */
  async settle(): Promise<void> {
    await this.writing;
  }
}
