// Everything one run accumulates between its phases, with one owner: holds, admissions, exclusions, the membership collector, the plan.
import type { Exclusion, HeldDeletion } from "../store/syncStateStore";
import type { InitialUserLists } from "./initialUserLists";
import { MembershipCollector } from "./membershipCollector";
import type { RunPlan } from "./runPlan";

export interface CreateRunStateOptions {
  /** User deletions earlier runs held back. */
  held: HeldDeletion[];
  /** Whether any exclusion is recorded; without one there is none to remove, and no write is spent trying. */
  exclusionsExist: boolean;
  plan: RunPlan;
}

/** Exclusion records to write and to remove, taken together after a page's writes. */
export interface ExclusionChanges {
  save: Exclusion[];
  remove: string[];
}

export class RunState {
  readonly plan: RunPlan;
  /** Users whose deletion Entra reported (this run or earlier); one that comes back in the delta is no longer to be deleted. */
  private readonly deletionHeld: Set<string>;
  /** Users held back because they left the scope; only the scope decides whether they go. */
  private readonly scopeHeld: Set<string>;
  private holdsToSave: HeldDeletion[] = [];
  private holdsToRelease: string[] = [];
  /** Users entering the scope, or seen in part only, whose whole object is read by id after the streams. */
  private readonly usersToRead = new Set<string>();
  /** Users admitted into the scope whose whole objects are being applied now. */
  private readonly admitted = new Set<string>();
  private exclusionsToSave: Exclusion[] = [];
  private exclusionsToRemove: string[] = [];
  private exclusionsExist: boolean;
  /** Hashes of groups written in this run, so a group's later appearances in a full read are not written or counted again. */
  private readonly writtenGroups = new Map<string, string>();
  private collector: MembershipCollector | undefined;
  private initialLists: InitialUserLists | undefined;
  private readingById = false;

  constructor(options: CreateRunStateOptions) {
    this.plan = options.plan;
    this.deletionHeld = new Set(options.held.filter((held) => !held.outOfScope).map((held) => held.userId));
    this.scopeHeld = new Set(options.held.filter((held) => held.outOfScope).map((held) => held.userId));
    this.exclusionsExist = options.exclusionsExist;
  }

  /** Entra reported the user deleted: the deletion waits for the threshold check at the end of the run. */
  stageDeletion(deletion: HeldDeletion): void {
    this.holdsToSave.push(deletion);
    this.deletionHeld.add(deletion.userId);
  }

  /** The user is back in the delta: a deletion held for it is cancelled. True when there was one. */
  cancelDeletion(userId: string): boolean {
    if (!this.deletionHeld.delete(userId)) return false;
    this.holdsToRelease.push(userId);
    return true;
  }

  isScopeHeld(userId: string): boolean {
    return this.scopeHeld.has(userId);
  }

  /** A stored user leaves the scope: its soft delete is held for the threshold check. False when it is already held. */
  stageScopeExit(deletion: HeldDeletion): boolean {
    if (this.scopeHeld.has(deletion.userId)) return false;
    this.scopeHeld.add(deletion.userId);
    this.holdsToSave.push(deletion);
    return true;
  }

  /** The user is back in the scope: its scope-exit hold ends. */
  releaseScopeHold(userId: string): void {
    if (this.scopeHeld.delete(userId)) this.holdsToRelease.push(userId);
  }

  /** Holds to write and to remove since the last call. */
  takeHoldChanges(): { save: HeldDeletion[]; release: string[] } {
    const changes = { save: this.holdsToSave, release: this.holdsToRelease };
    this.holdsToSave = [];
    this.holdsToRelease = [];
    return changes;
  }

  /** An update to a user never stored carries only what changed: the scope needs the whole object, read by id later. */
  readWholeUser(userId: string): void {
    if (!this.admitted.has(userId)) this.usersToRead.add(userId);
  }

  /** The scope lets the user in: its whole object is read by id and written. */
  admit(userId: string): void {
    this.usersToRead.add(userId);
    this.admitted.add(userId);
  }

  isAdmitted(userId: string): boolean {
    return this.admitted.has(userId);
  }

  get hasUsersToRead(): boolean {
    return this.usersToRead.size > 0;
  }

  /** The users to read by id now; until endAdmission, users written are ones entering the scope. */
  takeUsersToRead(): string[] {
    const ids = [...this.usersToRead];
    this.usersToRead.clear();
    this.readingById = true;
    return ids;
  }

  /** Whether users being written now were read by id to enter the scope. */
  get enteringScope(): boolean {
    return this.readingById;
  }

  /** The admitted users' objects have been applied. */
  endAdmission(): void {
    this.admitted.clear();
    this.readingById = false;
  }

  exclude(exclusion: Exclusion): void {
    this.exclusionsToSave.push(exclusion);
  }

  /** An object now stored: an exclusion recorded for it goes. */
  include(id: string): void {
    if (this.exclusionsExist) this.exclusionsToRemove.push(id);
  }

  takeExclusionChanges(): ExclusionChanges {
    const changes = { save: this.exclusionsToSave, remove: this.exclusionsToRemove };
    this.exclusionsToSave = [];
    this.exclusionsToRemove = [];
    if (changes.save.length > 0) this.exclusionsExist = true;
    return changes;
  }

  /** True when this run already wrote the group with this content. */
  groupWritten(groupId: string, hash: string): boolean {
    return this.writtenGroups.get(groupId) === hash;
  }

  noteGroupWritten(groupId: string, hash: string): void {
    this.writtenGroups.set(groupId, hash);
  }

  /** While the users stream is read after the groups stream: new users get their groups with their first write; undefined ends it. */
  useInitialUserLists(lists: InitialUserLists | undefined): void {
    this.initialLists = lists;
  }

  /** Before a page's new users are planned: what the lists need to know about them. */
  async prepareInitialLists(newUserIds: readonly string[]): Promise<void> {
    if (newUserIds.length > 0) await this.initialLists?.prepare(newUserIds);
  }

  /** A new user's groups and roles for its first write, when the run knows them. */
  initialListsFor(userId: string): ReturnType<InitialUserLists["forNewUser"]> {
    return this.initialLists?.forNewUser(userId);
  }

  /** A full read of groups starts from its first page in this process: its memberships are kept for the rebuild after it. */
  startCollectingMemberships(): void {
    this.collector = new MembershipCollector();
  }

  get membershipCollector(): MembershipCollector | undefined {
    return this.collector;
  }

  /** The collected memberships, once: the first rebuild uses them, later ones read the table. */
  takeMembershipCollector(): MembershipCollector | undefined {
    const collector = this.collector;
    this.collector = undefined;
    return collector;
  }
}
