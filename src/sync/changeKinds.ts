// Every kind of change event the engine can put in the change feed: the one list docs/api.md and docs/openapi.yaml are checked against.

const objectChanges = ["Created", "Updated", "SoftDeleted", "Restored", "Deleted"] as const;

export const changeKinds = [
  ...objectChanges.map((change) => `user${change}` as const),
  "userPurged",
  ...objectChanges.map((change) => `group${change}` as const),
  "groupPurged",
  ...objectChanges.map((change) => `device${change}` as const),
  "membershipAdded",
  "membershipRemoved",
] as const;

export type ChangeKind = (typeof changeKinds)[number];

export function isChangeKind(kind: string): kind is ChangeKind {
  return (changeKinds as readonly string[]).includes(kind);
}
