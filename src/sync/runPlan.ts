// What a run did or, for a dry run, would do: per kind of change, how many, a sample (who and why), and for a dry run every id.

/** One planned change: the object (and for a membership the group), and why when a rule decided it. */
export interface PlanEntry {
  id: string;
  groupId?: string;
  /** The user principal name or display name; never present for a user outside the scope. */
  name?: string;
  /** The rule that decided it, such as `userPrincipalName matches svc-*` or `not a member of any scope group`. */
  reason?: string;
}

/** One kind of change in the run record: how many, and the first few. */
export interface PlanCategory {
  count: number;
  sample: PlanEntry[];
}

/**
 * The plan as the run record stores it (`summary.plan`), keyed by kind: userCreated, userUpdated, userSoftDeleted, userRestored,
 * userDeleted, userPurged, the same for group and device, membershipAdded, membershipRemoved, userEnteredScope, userLeftScope,
 * userExcluded, groupExcluded. docs/api.md describes it.
 */
export type StoredPlan = Record<string, PlanCategory>;

/** Kinds about users outside the scope: the record keeps their id and reason only, never a name. */
const outOfScopeKinds = new Set(["userExcluded", "userLeftScope"]);
/** Entries per kind kept in the run record; well inside Table Storage's 64 KiB per property. */
export const planSampleSize = 10;
/** Characters of a reason kept in the record. */
const maxReasonLength = 200;

export interface CreateRunPlanOptions {
  /** Keep every entry, not only the sample (a dry run: its report names everyone). */
  keepIds: boolean;
}

export class RunPlan {
  private readonly categories = new Map<string, PlanCategory & { entries: Map<string, PlanEntry> | undefined }>();

  constructor(private readonly options: CreateRunPlanOptions) {}

  record(kind: string, entry: PlanEntry): void {
    let category = this.categories.get(kind);
    if (!category) this.categories.set(kind, (category = { count: 0, sample: [], entries: this.options.keepIds ? new Map() : undefined }));
    const key = planKey(entry);
    // Each object counts once per kind, however many pages or passes meet it.
    if (category.entries?.has(key)) return;
    category.count++;
    // A real run of a large tenant records hundreds of thousands of entries: build the kept copy only where it is kept.
    if (!category.entries && category.sample.length >= planSampleSize) return;
    const kept = keptEntry(kind, entry);
    category.entries?.set(key, kept);
    if (category.sample.length < planSampleSize) category.sample.push(kept);
  }

  /** Every id of a kind (members as `memberId>groupId`); empty unless the plan keeps ids. */
  ids(kind: string): string[] {
    return [...(this.categories.get(kind)?.entries?.keys() ?? [])].sort();
  }

  /** Every entry of every kind, ordered by id (a dry run's full report); empty unless the plan keeps ids. */
  allEntries(): Record<string, PlanEntry[]> {
    return Object.fromEntries(this.kinds.map((kind) => [kind, [...(this.categories.get(kind)?.entries ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, entry]) => entry)]));
  }

  get kinds(): string[] {
    return [...this.categories.keys()].sort();
  }

  toStored(): StoredPlan {
    return Object.fromEntries([...this.categories].map(([kind, { count, sample }]) => [kind, { count, sample }]));
  }
}

/** What the plan keeps of an entry: never a name for a user outside the scope, and a bounded reason. */
function keptEntry(kind: string, entry: PlanEntry): PlanEntry {
  const { name, reason, ...rest } = entry;
  return { ...rest, ...(name !== undefined && !outOfScopeKinds.has(kind) ? { name } : {}), ...(reason !== undefined ? { reason: reason.slice(0, maxReasonLength) } : {}) };
}

function planKey(entry: PlanEntry): string {
  return entry.groupId ? `${entry.id}>${entry.groupId}` : entry.id;
}
