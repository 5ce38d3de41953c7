// `entra-sync export`: streams the stored directory as JSON or NDJSON while it reads it, so any size fits in bounded memory.
import type { Writable } from "node:stream";
import type { Composition } from "../compositionRoot";
import { SettingsError } from "../config/settings";
import type { DirectoryTables } from "../store/directoryStore";
import { exportPages, exportSections, type ExportSection } from "../store/directoryExport";
import { OutputClosedError, StreamOutput } from "./streamOutput";

export type ExportFormat = "json" | "ndjson";
export const exportFormats: readonly ExportFormat[] = ["json", "ndjson"];

/** Names the layout, so a consumer can tell this export from a later, changed one. */
export const exportFormatName = "entra-table-sync-export/2";

/** NDJSON's `type` for a record of each section. */
const recordTypes: Record<ExportSection, string> = { users: "user", groups: "group", devices: "device", members: "member" };

export interface WriteExportOptions {
  format: ExportFormat;
  /** Replaces the export time (tests). */
  exportedAt?: string;
}

export type ExportCounts = Record<ExportSection, number>;

export async function writeExport(tables: DirectoryTables, tenantId: string, stream: Writable, options: WriteExportOptions): Promise<ExportCounts> {
  const output = new StreamOutput(stream);
  const header = { format: exportFormatName, tenantId, exportedAt: options.exportedAt ?? new Date().toISOString() };
  const counts = Object.fromEntries(exportSections.map((section) => [section, 0])) as ExportCounts;
  try {
    await output.write(options.format === "ndjson" ? `${JSON.stringify({ type: "export", ...header })}\n` : `{${JSON.stringify(header).slice(1, -1)},\n`);
    for (const [index, section] of exportSections.entries()) {
      if (options.format === "json") await output.write(`"${section}": [`);
      for await (const page of exportPages(tables, tenantId, section)) {
        let text = "";
        for (const record of page) {
          text += options.format === "ndjson" ? `${JSON.stringify({ type: recordTypes[section], ...record })}\n` : `${counts[section] === 0 ? "\n" : ",\n"}${JSON.stringify(record)}`;
          counts[section]++;
        }
        await output.write(text);
      }
      if (options.format === "json") await output.write(`${counts[section] === 0 ? "" : "\n"}]${index < exportSections.length - 1 ? "," : ""}\n`);
    }
    // The closing record carries the counts, so a consumer can tell a whole export from one cut short.
    await output.write(options.format === "ndjson" ? `${JSON.stringify({ type: "end", counts })}\n` : `,"counts": ${JSON.stringify(counts)}}\n`);
    await output.end();
    return counts;
  } finally {
    output.detach();
  }
}

/** One line for the admin when the reader went away: the exit code is non-zero and nothing half-written looks complete. */
export function describeExportFailure(error: OutputClosedError): string {
  const reason = error.code === "EPIPE" ? "the program reading it closed the pipe before the end" : `writing failed with ${error.code ?? error.message}`;
  return `export stopped: ${reason}, so the output is incomplete.`;
}

/** The command's edge: checks --format, streams to stdout, and turns a closed pipe into one line and exit code 1. */
export async function runExport(composition: Composition, format: string | undefined): Promise<number> {
  if (!exportFormats.includes(format as ExportFormat)) throw new SettingsError(`--format must be one of ${exportFormats.join(", ")}, not ${JSON.stringify(format)}.`);
  try {
    await writeExport(composition.tables, composition.settings.tenantId, process.stdout, { format: format as ExportFormat });
    return 0;
  } catch (error) {
    if (!(error instanceof OutputClosedError)) throw error;
    process.stderr.write(`${describeExportFailure(error)}\n`);
    return 1;
  }
}
