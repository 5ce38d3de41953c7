// Lists synced accounts that look like system or service accounts, as suggestions for USER_EXCLUDE_PATTERNS; it never excludes anyone.
import type { DirectoryStore } from "../store/directoryStore";
import { globToRegExp } from "./scopePolicy";

/** Words that name a mailbox or a process rather than a person, as they appear in the local part of an address. */
const tokens = ["svc", "service", "noreply", "no-reply", "donotreply", "do-not-reply", "bot", "daemon", "system", "sync", "scan", "scanner", "printer", "automation", "api", "app", "test", "admin", "shared", "mailbox", "alerts", "monitor", "backup", "report", "robot"];
/** Words that name a room, equipment or another resource mailbox (Exchange resource and shared mailboxes are accounts too). */
const resourceTokens = ["room", "rooms", "boardroom", "meetingroom", "conference", "conf", "equipment", "resource", "projector", "vehicle", "pool"];
/** Prefixes administrators commonly give service, admin and resource accounts; the longest that matches is used. */
const prefixes = ["sa-", "sa_", "svc-", "svc_", "srv-", "adm-", "adm_", "admin-", "admin.", "conf.room.", "conf-room-", "room-", "room.", "room_", "equip-", "equipment-", "res-", "resource-", "shared-", "shared."];
/** Display names Exchange and admins give resources: "Room 101", "Boardroom", "Projector (Equipment)". */
const resourceDisplayName = /\b(room|boardroom|conference)\b|\(equipment\)|\bequipment\b/i;

export interface AccountSuggestion {
  id: string;
  userPrincipalName: string;
  displayName: string | undefined;
  /** Why it looks like a service account, strongest first. */
  signals: string[];
  /** A glob that would leave it out. */
  pattern: string;
}

export interface SuggestionReport {
  scanned: number;
  suggestions: AccountSuggestion[];
  /** Each suggested glob with how many synced accounts it would leave out, so an admin sees what else it catches. */
  patterns: Array<{ pattern: string; wouldExclude: number }>;
  note: string;
}

function localPart(address: unknown): string | undefined {
  return typeof address === "string" ? address.split("@")[0]?.toLowerCase() : undefined;
}

/** The signals one account shows; none means it looks like a person. */
export function serviceAccountSignals(properties: Record<string, unknown>): { signals: string[]; pattern: string | undefined } {
  const signals: string[] = [];
  let pattern: string | undefined;
  for (const field of ["userPrincipalName", "mail"] as const) {
    const local = localPart(properties[field]);
    if (!local) continue;
    const prefix = prefixes.filter((candidate) => local.startsWith(candidate)).sort((a, b) => b.length - a.length)[0];
    if (prefix && !pattern) {
      signals.push(`${field} starts with "${prefix}"`);
      pattern = `${prefix}*`;
    }
    // A token counts only as a whole word of the local part (svc.backup, no-reply), not inside a name such as "appleby".
    const words = local.split(/[._\-+0-9]+/);
    const token = tokens.find((candidate) => words.includes(candidate) || (candidate.includes("-") && local.includes(candidate)));
    if (token) {
      signals.push(`${field} contains "${token}"`);
      pattern ??= `*${token}*`;
    }
    // "equipment" names a resource wherever it stands (av-equipment2, equipmentloan).
    const resource = resourceTokens.find((candidate) => words.includes(candidate)) ?? (local.includes("equipment") ? "equipment" : undefined);
    if (resource) {
      signals.push(`${field} names a resource ("${resource}")`);
      pattern ??= `*${resource}*`;
    }
  }
  if (!properties.givenName && !properties.surname) signals.push("no given name or surname");
  const displayName = typeof properties.displayName === "string" ? properties.displayName : undefined;
  if (displayName && (/\b(service|account|mailbox|system|noreply|no-reply)\b/i.test(displayName) || resourceDisplayName.test(displayName))) signals.push(`display name "${displayName}"`);
  // A missing name alone is common for real people in some directories; it only strengthens another signal.
  const strong = signals.some((signal) => !signal.startsWith("no given name"));
  return strong ? { signals: [...new Set(signals)], pattern } : { signals: [], pattern: undefined };
}

export async function suggestServiceAccounts(store: DirectoryStore, limit = 100): Promise<SuggestionReport> {
  const suggestions: AccountSuggestion[] = [];
  const accounts: string[][] = [];
  let scanned = 0;
  for await (const user of store.listObjects("users", "deleted eq false", ["RowKey", "userPrincipalName", "mail", "givenName", "surname", "displayName"])) {
    scanned++;
    accounts.push((["userPrincipalName", "mail"] as const).flatMap((field) => (typeof user.properties[field] === "string" ? [user.properties[field] as string] : [])));
    const { signals, pattern } = serviceAccountSignals(user.properties);
    if (signals.length === 0) continue;
    suggestions.push({ id: user.id, userPrincipalName: String(user.properties.userPrincipalName ?? ""), displayName: user.properties.displayName as string | undefined, signals, pattern: pattern ?? String(user.properties.userPrincipalName ?? user.id) });
  }
  suggestions.sort((a, b) => b.signals.length - a.signals.length || a.userPrincipalName.localeCompare(b.userPrincipalName));
  const patterns = [...new Set(suggestions.map((suggestion) => suggestion.pattern))].map((pattern) => {
    const regex = globToRegExp(pattern);
    // Counted per account: one matching on both its user principal name and its mail is one account left out.
    return { pattern, wouldExclude: accounts.filter((addresses) => addresses.some((address) => regex.test(address))).length };
  });
  return {
    scanned,
    suggestions: suggestions.slice(0, limit),
    patterns: patterns.sort((a, b) => b.wouldExclude - a.wouldExclude),
    note: "Suggestions only: nothing is excluded until you add patterns to USER_EXCLUDE_PATTERNS. Check each pattern's count for people it would also catch.",
  };
}
