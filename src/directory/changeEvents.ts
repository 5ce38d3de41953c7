// What a run changed, as the change feed tells consumers: one event per object or membership a consumer can see change.

/** One change a page made to the store, for the change feed: what changed, in which run, when. */
export interface ChangeEvent {
  tenantId: string;
  runId: string;
  /** When the page was applied (ISO 8601). */
  at: string;
  /** userCreated, userUpdated, userSoftDeleted, userRestored, userDeleted, userPurged, the same for group, membershipAdded, membershipRemoved. */
  kind: string;
  /** The user or group; for a membership event, the member. */
  objectId: string;
  /** For a membership event, the group. */
  groupId: string | undefined;
  description: string;
}

/** Receives each page's change events after the page's writes have committed. */
export interface ChangeSink {
  record(events: ChangeEvent[]): Promise<void>;
}
