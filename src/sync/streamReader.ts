// Reads one delta stream page by page, applies each page, and saves the stream's checkpoint once the page's writes are in.
import type { StreamName } from "../directory/directoryObjects";
import { parseDevicePage, parseGroupPage, parseUserPage } from "../graph/deltaParsing";
import { describe, type DeltaCursor, type DeltaPage } from "../graph/graphDeltaReader";
import { DeltaTokenExpiredError } from "../graph/graphErrors";
import type { StreamCheckpoint } from "../store/syncStateStore";
import { WriteBuffer } from "../store/writeBuffer";
import type { PageApplier, PageContext } from "./pageApplier";
import type { RunContext } from "./runContext";
import { addWarning } from "./syncRun";

/** Thrown inside a stream when the run's deadline passed; the checkpoint is already saved. */
export class DeadlineReached extends Error {
  override name = "DeadlineReached";
}

export interface ReadStreamOptions {
  stream: StreamName;
  checkpoint: StreamCheckpoint;
  applier: PageApplier;
  /** A fresh full read was asked for (not a continuation). */
  forceFull: boolean;
  /** Decided once before either stream writes, so one stream's first page cannot make the other think the store was full. */
  storeEmptyAtStart: boolean;
  /** Set when another stream failed or the deadline passed: this one stops after its current page. */
  stop: { requested: boolean };
  /** Epoch ms after which the stream stops between pages. */
  deadline: number | undefined;
  /** Writes a full read buffers before it flushes them and moves its checkpoint. */
  bufferOperations: number;
  heartbeat: (() => Promise<void>) | undefined;
  /** Aborted by the CLI's SIGINT/SIGTERM: the stream stops at its next checkpoint as at a deadline. */
  stopSignal: AbortSignal | undefined;
  onPage: (progress: { stream: StreamName; pages: number; objects: number; seconds: number }) => void;
}

/** Where one stream's read stands inside this invocation. */
interface StreamCursor {
  checkpoint: StreamCheckpoint;
  cursor: DeltaCursor;
  /** No stored row can be met: the full read began on an empty store and this invocation reads it from its first page. */
  skipStoredRows: boolean;
  prefetched: Promise<DeltaPage> | undefined;
  startedAt: number;
}

/** A stream whose start is decided and saved. */
export interface OpenedStream {
  options: ReadStreamOptions;
  position: StreamCursor | undefined;
  /** This invocation reads a first sync's stream from its first page. */
  fromFirstPageOfEmptyStore: boolean;
  /** The stream is (or was, earlier in this run) read in full rather than from its delta link. */
  fullRead: boolean;
}

/** Decides where the stream starts and saves it (a new full read is recorded before any page), without reading. */
export async function openStream(run: RunContext, options: ReadStreamOptions): Promise<OpenedStream> {
  const position = await startingPoint(run, options);
  const checkpoint = position?.checkpoint ?? options.checkpoint;
  return { options, position, fromFirstPageOfEmptyStore: position?.skipStoredRows === true, fullRead: checkpoint.fullReadGeneration !== undefined };
}

export async function readStream(run: RunContext, opened: OpenedStream): Promise<void> {
  const { options, position } = opened;
  const progress = run.summary.streams[options.stream]!;
  if (!position) {
    progress.completed = true;
    progress.fullRead = options.checkpoint.fullReadGeneration !== undefined;
    return;
  }
  // The rate counts from the first page read, not from the opening, which may be a whole stream earlier.
  position.startedAt = Date.now();
  // A full read buffers its writes across pages; its checkpoint moves only when the buffer has been flushed.
  const buffer = new WriteBuffer();
  for (;;) {
    const page = await nextPage(run, options, position);
    const context = pageContext(position, buffer);
    await applyPage(run, { stream: options.stream, page, context, applier: options.applier });
    progress.pages++;
    progress.objects += page.objects.length;
    progress.fullRead = position.checkpoint.fullReadGeneration !== undefined;
    const stopping = await commitPage(run, { options, position, page, context });
    options.onPage({ stream: options.stream, pages: progress.pages, objects: progress.objects, seconds: Math.max(0.001, (Date.now() - position.startedAt) / 1000) });
    if (!page.nextLink) break;
    position.cursor = { kind: "link", url: page.nextLink };
    if (stopping) throw new DeadlineReached();
  }
  progress.completed = true;
}

/** Where the stream starts: undefined when its read already finished in an earlier invocation of this run. */
async function startingPoint(run: RunContext, options: ReadStreamOptions): Promise<StreamCursor | undefined> {
  let checkpoint = { ...options.checkpoint };
  if (checkpoint.pendingDeltaLink && !options.forceFull) return undefined;
  if (options.forceFull || (!checkpoint.deltaLink && !checkpoint.nextLink && !checkpoint.fullReadGeneration)) {
    checkpoint = startFullRead(run, { stream: options.stream, checkpoint, storeWasEmpty: options.storeEmptyAtStart });
    // Saved before the first page, so a run that dies before any page still resumes as a full read.
    await run.state.saveCheckpoint(options.stream, checkpoint);
  }
  if (checkpoint.nextLink) run.logger.info(`Resuming the ${options.stream} read at page ${checkpoint.pages + 1}`);
  const cursor: DeltaCursor = checkpoint.nextLink ? { kind: "link", url: checkpoint.nextLink } : checkpoint.fullReadGeneration ? { kind: "initial" } : { kind: "link", url: checkpoint.deltaLink! };
  // Stored rows can exist only if an earlier invocation applied pages of this full read.
  return { checkpoint, cursor, skipStoredRows: checkpoint.storeWasEmpty && checkpoint.pages === 0, prefetched: undefined, startedAt: Date.now() };
}

function startFullRead(run: RunContext, input: { stream: StreamName; checkpoint: StreamCheckpoint; storeWasEmpty: boolean }): StreamCheckpoint {
  if (input.stream === "groups") run.runState.startCollectingMemberships();
  return { ...input.checkpoint, nextLink: undefined, pendingDeltaLink: undefined, fullReadGeneration: run.summary.runId, storeWasEmpty: input.storeWasEmpty, pages: 0, objects: 0 };
}

/** The next page, fetched ahead while the previous one was written; an expired delta token restarts the stream as a full read. */
async function nextPage(run: RunContext, options: ReadStreamOptions, position: StreamCursor): Promise<DeltaPage> {
  for (;;) {
    try {
      const page = await (position.prefetched ?? run.source.readPage(options.stream, position.cursor));
      position.prefetched = undefined;
      // Fetch the next page while this one is written; it is only consumed after this page's checkpoint is saved.
      if (page.nextLink) {
        position.prefetched = run.source.readPage(options.stream, { kind: "link", url: page.nextLink });
        position.prefetched.catch(() => undefined);
      }
      return page;
    } catch (error) {
      position.prefetched = undefined;
      if (!(error instanceof DeltaTokenExpiredError) || (position.cursor.kind === "initial" && !position.checkpoint.nextLink)) throw error;
      addWarning(run.summary, `The ${options.stream} delta token was no longer valid (${error.code ?? error.status}); started a full read, and objects it does not find will be marked deleted.`);
      run.logger.warn(`${error.message}; starting a full read of ${options.stream}`);
      position.checkpoint = startFullRead(run, { stream: options.stream, checkpoint: position.checkpoint, storeWasEmpty: false });
      position.skipStoredRows = false;
      position.cursor = { kind: "initial" };
    }
  }
}

function pageContext(position: StreamCursor, buffer: WriteBuffer): PageContext {
  const full = position.checkpoint.fullReadGeneration !== undefined;
  return {
    fullReadGeneration: position.checkpoint.fullReadGeneration,
    storeWasEmpty: position.skipStoredRows,
    initialLoad: full && position.checkpoint.storeWasEmpty,
    now: new Date().toISOString(),
    buffer: full ? buffer : undefined,
  };
}

async function applyPage(run: RunContext, input: { stream: StreamName; page: DeltaPage; context: PageContext; applier: PageApplier }): Promise<void> {
  const { page, context, applier } = input;
  if (input.stream === "users") {
    const parsed = parseUserPage(page.objects);
    parsed.warnings.forEach((warning) => addWarning(run.summary, warning));
    await applier.applyUserPage(parsed.changes, context);
  } else if (input.stream === "groups") {
    const parsed = parseGroupPage(page.objects);
    parsed.warnings.forEach((warning) => addWarning(run.summary, warning));
    await applier.applyGroupPage(parsed.changes, context);
  } else {
    const parsed = parseDevicePage(page.objects);
    parsed.warnings.forEach((warning) => addWarning(run.summary, warning));
    await applier.applyDevicePage(parsed.changes, context, run.summary.devices!);
  }
}

/** Moves the checkpoint past the page once its writes are in (a full read flushes its buffer first); true when the stream is to stop. */
async function commitPage(run: RunContext, input: { options: ReadStreamOptions; position: StreamCursor; page: DeltaPage; context: PageContext }): Promise<boolean> {
  const { options, position, page, context } = input;
  const checkpoint = position.checkpoint;
  position.checkpoint = { ...checkpoint, pages: checkpoint.pages + 1, objects: checkpoint.objects + page.objects.length, nextLink: page.nextLink, pendingDeltaLink: page.nextLink ? undefined : page.deltaLink };
  if (!page.nextLink && !page.deltaLink) {
    const cursor = position.cursor;
    throw new Error(`GET ${cursor.kind === "link" ? describe(cursor.url) : options.stream + "/delta"} answered a page with neither @odata.nextLink nor @odata.deltaLink`);
  }
  const stopping = options.stop.requested || options.stopSignal?.aborted === true || (options.deadline !== undefined && Date.now() >= options.deadline);
  const buffered = context.buffer !== undefined && context.buffer.size < options.bufferOperations && page.nextLink !== undefined && !stopping;
  // Not flushed yet: the saved checkpoint stays at the last flushed page, which a rerun resumes from.
  if (!buffered) {
    await context.buffer?.flush(run.store, run.changeSink);
    await run.state.saveCheckpoint(options.stream, position.checkpoint);
  }
  await options.heartbeat?.();
  if (stopping) position.prefetched = undefined;
  return stopping;
}
