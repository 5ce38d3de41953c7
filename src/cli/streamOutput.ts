// Writes text to a stream with backpressure and reports a write error (a closed pipe) to the writer instead of crashing the process.
import type { Writable } from "node:stream";

/** Text is gathered into chunks of this size before it is written: a few system calls per page, not one per record. */
const chunkBytes = 64 * 1024;

/** The output stream failed (EPIPE when the reader closed early, ENOSPC, EBADF); what was written is incomplete. */
export class OutputClosedError extends Error {
  override name = "OutputClosedError";

  constructor(
    message: string,
    readonly code: string | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export class StreamOutput {
  private pending = "";
  private failure: OutputClosedError | undefined;
  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.failure ??= new OutputClosedError(`the output stream failed (${error.code ?? error.message})`, error.code, { cause: error });
  };

  constructor(private readonly stream: Writable) {
    // Without a listener Node turns EPIPE on stdout into an uncaught exception with a stack trace.
    stream.on("error", this.onError);
  }

  /** Queues text; waits only when a chunk is full and the stream asks the writer to slow down. */
  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.pending += text;
    if (this.pending.length >= chunkBytes) await this.flush();
  }

  /** Writes what is queued and waits until the stream has handed everything to the system, so exiting cannot cut it. */
  async end(): Promise<void> {
    await this.flush();
    if (this.stream.writableLength > 0) await this.settle("");
    if (this.failure) throw this.failure;
  }

  /** Stops listening for errors; call once done with the stream. */
  detach(): void {
    this.stream.off("error", this.onError);
    // A late EPIPE after detaching must still not crash the process.
    this.stream.on("error", () => undefined);
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending === "") return;
    const chunk = this.pending;
    this.pending = "";
    if (!this.stream.write(chunk)) await this.drained();
    if (this.failure) throw this.failure;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("error", done);
      this.stream.on("close", done);
    });
  }

  private settle(chunk: string): Promise<void> {
    return new Promise((resolve) => {
      this.stream.write(chunk, (error) => {
        if (error) this.onError(error);
        resolve();
      });
    });
  }
}
