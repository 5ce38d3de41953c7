// Formats times, durations and counts the way the console shows them: absolute UTC with a relative hint.

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().replace("T", " ").slice(0, 19)} UTC (${relative(date)})`;
}

export function relative(date: Date, now = new Date()): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [Math.round(abs / 60), "minute"] : abs < 86_400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86_400), "day"];
  const text = `${value} ${unit}${value === 1 ? "" : "s"}`;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

export interface ChangeCounts {
  created: number;
  updated: number;
  softDeleted: number;
  restored: number;
  deleted: number;
  unchanged?: number;
  purged?: number;
}

/** "3 created, 1 updated" with the zero counts left out; "no changes" when all are zero. */
export function counts(c: ChangeCounts | undefined): string {
  if (!c) return "—";
  const parts = [
    [c.created, "created"],
    [c.updated, "updated"],
    [c.softDeleted, "soft-deleted"],
    [c.restored, "restored"],
    [c.deleted, "deleted"],
    [c.purged ?? 0, "purged"],
  ] as const;
  const shown = parts.filter(([value]) => value > 0).map(([value, label]) => `${value} ${label}`);
  return shown.length > 0 ? shown.join(", ") : "no changes";
}

/** Words for a machine key: "softDeleted" → "soft deleted", "wouldQuarantine" → "would quarantine". */
export function words(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
}
