// The user deletions the accidental-deletion threshold holds for a tenant: who, why, and since when, for the console and GET /api/sync/held.
import type { HeldDeletion } from "../store/syncStateStore";

export type HeldReason = "softDeletedInEntra" | "deletedInEntra" | "leftScope";

export interface HeldDeletionView {
  userId: string;
  name: string;
  reason: HeldReason;
  /** The reason in words, as the console shows it. */
  why: string;
  heldAt: string;
}

export interface HeldDeletionList {
  tenantId: string;
  count: number;
  deletions: HeldDeletionView[];
}

const why: Record<HeldReason, string> = {
  softDeletedInEntra: "deleted in Entra and still restorable there (soft delete)",
  deletedInEntra: "deleted in Entra for good",
  leftScope: "left the sync scope (still in Entra: a scope group, exclusion or filter changed)",
};

/** Oldest hold first, so the list reads in the order things happened; names sort ties. */
export function describeHeldDeletions(tenantId: string, held: readonly HeldDeletion[]): HeldDeletionList {
  const deletions = held
    .map((deletion): HeldDeletionView => {
      const reason: HeldReason = deletion.outOfScope ? "leftScope" : deletion.reason === "deleted" ? "deletedInEntra" : "softDeletedInEntra";
      return { userId: deletion.userId, name: deletion.name, reason, why: why[reason], heldAt: deletion.heldAt };
    })
    .sort((a, b) => a.heldAt.localeCompare(b.heldAt) || a.name.localeCompare(b.name));
  return { tenantId, count: deletions.length, deletions };
}
