// Renders a dry run's plan from whatever categories its run record holds, so a richer plan shape needs no change elsewhere.
import { h } from "./dom.js";
import { words } from "./format.js";

/** One planned change as records may hold it: a sentence, or an object naming who and why. */
type PlanEntry = string | Record<string, unknown>;

/** How many entries of a category are listed before the rest is summarised. */
const shownPerCategory = 50;

export interface RenderPlanOptions {
  /** User deletions the run would hold: then an empty plan is not "nothing would change". */
  heldDeletions?: number;
}

/** The plan as a list of categories, each with its entries; a category that is a flag or a count is one line. */
export function renderPlan(plan: unknown, options: RenderPlanOptions = {}): HTMLElement {
  if (plan === null || plan === undefined || typeof plan !== "object") return h("p", { class: "muted" }, "This run recorded no plan.");
  const entries = Object.entries(plan as Record<string, unknown>);
  if (entries.length === 0 && (options.heldDeletions ?? 0) > 0) return h("p", {}, "Nothing else would change: only the held deletions above, which wait for Allow deletions.");
  if (entries.length === 0) return h("p", {}, "Nothing would change: the tables already match the directory and the scope.");
  const flags = entries.filter(([, value]) => !Array.isArray(value) && (typeof value !== "object" || value === null));
  const lists = entries.filter(([, value]) => Array.isArray(value) || (typeof value === "object" && value !== null));
  return h(
    "div",
    { class: "plan" },
    flags.length > 0 ? h("ul", { class: "plan-flags" }, ...flags.map(([key, value]) => h("li", { class: value === true ? "warn" : "" }, `${sentence(key)}: ${value === true ? "yes" : value === false ? "no" : String(value)}`))) : null,
    ...lists.map(([key, value]) => category(key, value)),
  );
}

/** The engine's stored plan keeps, per kind, the full count and a sample of entries (docs/schema.md). */
function isCountedSample(value: unknown): value is { count: number; sample: PlanEntry[] } {
  return typeof value === "object" && value !== null && typeof (value as { count?: unknown }).count === "number" && Array.isArray((value as { sample?: unknown }).sample);
}

function category(key: string, value: unknown): HTMLElement {
  const counted = isCountedSample(value);
  const items: PlanEntry[] = counted ? value.sample : Array.isArray(value) ? (value as PlanEntry[]) : Object.entries(value as Record<string, unknown>).map(([name, detail]) => ({ name, ...(typeof detail === "object" && detail !== null ? detail : { detail }) }));
  const total = counted ? value.count : items.length;
  const shown = items.slice(0, shownPerCategory);
  const id = `plan-${key.replace(/[^a-zA-Z0-9]/g, "-")}`;
  return h(
    "section",
    { class: "plan-category", "aria-labelledby": id },
    h("h3", { id }, `${sentence(key)} (${total})`),
    total === 0 ? h("p", { class: "muted" }, "None.") : h("ul", {}, ...shown.map((item) => h("li", {}, describe(item)))),
    total > shown.length ? h("p", { class: "muted" }, `… and ${total - shown.length} more`) : null,
  );
}

/** An entry object as "who — why": the first name-like field, then the reason-like fields, then anything else. */
function describe(entry: PlanEntry): string {
  if (typeof entry === "string") return entry;
  const who = ["displayName", "userPrincipalName", "name", "who", "id", "objectId"].map((field) => entry[field]).find((value) => typeof value === "string");
  const why = ["reason", "why", "reasons"].map((field) => entry[field]).find((value) => value !== undefined);
  const rest = Object.entries(entry)
    .filter(([field, value]) => !["displayName", "userPrincipalName", "name", "who", "reason", "why", "reasons"].includes(field) && value !== who && value !== undefined && value !== null)
    .map(([field, value]) => `${words(field)} ${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
  return [who ?? "(unnamed)", why === undefined ? undefined : `— ${Array.isArray(why) ? why.join("; ") : String(why)}`, rest.length > 0 ? `(${rest.join(", ")})` : undefined].filter(Boolean).join(" ");
}

function sentence(key: string): string {
  const text = words(key);
  return text.charAt(0).toUpperCase() + text.slice(1);
}
