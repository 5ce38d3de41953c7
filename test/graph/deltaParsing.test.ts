// Raw delta objects become provider-neutral changes; what cannot be stored safely is dropped with a warning.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseGroupPage, parseUserPage } from "../../src/graph/deltaParsing";
import { resourceUnitCost } from "../../src/graph/graphMetrics";

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

describe("delta parsing", () => {
  test("users: updates keep only the properties sent, removals keep their reason", () => {
    const { changes, warnings } = parseUserPage([
      { id: id(1), displayName: "Ana", mail: null },
      { id: id(2), "@removed": { reason: "changed" } },
      { id: id(3), "@removed": { reason: "deleted" } },
      { id: "../../etc", displayName: "evil" },
    ]);
    assert.deepEqual(changes, [
      { kind: "upsert", id: id(1), properties: { displayName: "Ana", mail: null } },
      { kind: "removed", id: id(2), reason: "changed" },
      { kind: "removed", id: id(3), reason: "deleted" },
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not a GUID/);
  });

  test("groups: members@delta of every type, removals flagged", () => {
    const { changes } = parseGroupPage([
      {
        id: id(10),
        displayName: "Staff",
        groupTypes: ["Unified"],
        "members@delta": [
          { "@odata.type": "#microsoft.graph.user", id: id(1) },
          { "@odata.type": "#microsoft.graph.group", id: id(11) },
          { "@odata.type": "#microsoft.graph.device", id: id(12) },
          { "@odata.type": "#microsoft.graph.servicePrincipal", id: id(13) },
          { "@odata.type": "#microsoft.graph.orgContact", id: id(14) },
          { "@odata.type": "#microsoft.graph.user", id: id(2), "@removed": { reason: "deleted" } },
        ],
      },
      { id: id(15), "@removed": { reason: "changed" } },
    ]);
    assert.deepEqual(
      changes.memberships.map((m) => [m.memberId, m.memberType, m.removed]),
      [
        [id(1), "user", false],
        [id(11), "group", false],
        [id(12), "device", false],
        [id(13), "servicePrincipal", false],
        [id(14), "orgContact", false],
        [id(2), "user", true],
      ],
    );
    assert.deepEqual(changes.groups[1], { kind: "removed", id: id(15), reason: "changed" });
  });

  test("resource units follow Graph's documented costs", () => {
    assert.equal(resourceUnitCost("https://graph.microsoft.com/v1.0/users/delta?$select=id"), 1);
    assert.equal(resourceUnitCost("https://graph.microsoft.com/v1.0/users"), 2);
    assert.equal(resourceUnitCost("https://graph.microsoft.com/v1.0/groups/x/members"), 3);
    assert.equal(resourceUnitCost("https://graph.microsoft.com/v1.0/groups/delta?$skiptoken=abc"), 1);
  });
});
