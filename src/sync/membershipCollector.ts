// Direct memberships a full read of groups saw, kept in memory so the rebuild after it need not read the Members table back.
import type { MemberType } from "../directory/directoryObjects";

export class MembershipCollector {
  readonly byMember = new Map<string, { memberType: MemberType; groups: string[]; inactive?: Set<string> }>();
  /** Group ids repeat for every member; one string per group keeps a million edges small. */
  private readonly interned = new Map<string, string>();

  add(groupId: string, memberId: string, memberType: MemberType): void {
    const group = this.interned.get(groupId) ?? (this.interned.set(groupId, groupId), groupId);
    const entry = this.byMember.get(memberId);
    if (entry) entry.groups.push(group);
    else this.byMember.set(memberId, { memberType, groups: [group] });
  }
}

