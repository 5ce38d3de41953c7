// The scope policy's pure decisions: globs, user filters, service-account signals, and which setting changes widen the filters.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultScope, globToRegExp, ScopePolicy } from "../../src/policy/scopePolicy";
import { serviceAccountSignals, suggestServiceAccounts } from "../../src/policy/serviceAccounts";
import { memorySync } from "../sync/support/memorySync";

describe("scope policy", () => {
  test("globs match the whole value, ignoring case, with * and ? only", () => {
    assert.ok(globToRegExp("*service*").test("Backup.SERVICE@contoso.com"));
    assert.ok(globToRegExp("svc-?@*").test("svc-1@contoso.com"));
    assert.ok(!globToRegExp("svc-*").test("my-svc-x@contoso.com"));
    assert.ok(!globToRegExp("a.b").test("axb"), "a dot is literal");
    assert.ok(globToRegExp("(x)+[y]").test("(x)+[y]"), "regex characters are literal");
  });

  test("user filters name the first reason that applies", () => {
    const policy = new ScopePolicy({ ...defaultScope, includeGuests: false, disabledUsers: "exclude", excludeUserPatterns: ["*noreply*"] });
    assert.match(policy.userFilterReason({ userType: "Guest", accountEnabled: true }) ?? "", /^guest/);
    assert.match(policy.userFilterReason({ userType: "Member", accountEnabled: false }) ?? "", /^disabled/);
    assert.match(policy.userFilterReason({ userType: "Member", accountEnabled: true, userPrincipalName: "a@contoso.com", mail: "noreply@contoso.com" }) ?? "", /^mail matches \*noreply\*/);
    assert.equal(policy.userFilterReason({ userType: "Member", accountEnabled: true, userPrincipalName: "a@contoso.com" }), undefined);
    assert.equal(new ScopePolicy().userFilterReason({ userType: "Guest", accountEnabled: false }), undefined, "by default everyone is synced");
  });

  test("scope groups by id and by display-name pattern; the hash changes with the settings only", () => {
    const policy = new ScopePolicy({ ...defaultScope, includeGroups: ["AAAAAAAA-0000-4000-8000-000000000001"], includeGroupPatterns: ["Staff - *"], excludeGroupPatterns: ["*leavers*"] });
    const groups = new Map([["g1", "Staff - Science"], ["g2", "Year 7"], ["g3", "2024 Leavers"]]);
    const { include, exclude } = policy.scopeGroups(groups);
    assert.deepEqual([...include].sort(), ["aaaaaaaa-0000-4000-8000-000000000001", "g1"]);
    assert.deepEqual([...exclude], ["g3"]);
    assert.equal(policy.hash(), new ScopePolicy({ ...policy.settings, includeGroups: ["aaaaaaaa-0000-4000-8000-000000000001"] }).hash(), "ids compare ignoring case");
    assert.notEqual(policy.hash(), new ScopePolicy().hash());
  });

  test("only changes that can let excluded users back in count as widening the filters", () => {
    const strict = { ...defaultScope, includeGuests: false, excludeUserPatterns: ["*svc*"] };
    assert.equal(ScopePolicy.filtersWidened(strict, { ...strict, includeGuests: true }), true);
    assert.equal(ScopePolicy.filtersWidened(strict, { ...strict, excludeUserPatterns: [] }), true);
    assert.equal(ScopePolicy.filtersWidened(strict, { ...strict, excludeUserPatterns: ["*svc*", "*bot*"] }), false);
  });

  test("a recorded filter reason is re-checked against the current settings, so only users it may let back in are read again", () => {
    const policy = new ScopePolicy({ ...defaultScope, includeGuests: false, excludeUserPatterns: ["*svc*"], groupKinds: ["security", "microsoft365"] });
    const reasonFor = (properties: Record<string, unknown>) => policy.userFilterReason(properties)!;
    assert.equal(policy.filterReasonStillApplies(reasonFor({ userType: "Guest" })), true);
    assert.equal(policy.filterReasonStillApplies(reasonFor({ userType: "Member", userPrincipalName: "svc1@contoso.com" })), true);
    const relaxed = new ScopePolicy({ ...policy.settings, includeGuests: true, excludeUserPatterns: [] });
    assert.equal(relaxed.filterReasonStillApplies(reasonFor({ userType: "Guest" })), false);
    assert.equal(relaxed.filterReasonStillApplies(reasonFor({ userType: "Member", userPrincipalName: "svc1@contoso.com" })), false);
    assert.equal(policy.kindNowSynced("kind microsoft365 is not in SYNC_GROUP_KINDS"), true);
    assert.equal(policy.kindNowSynced("kind distribution is not in SYNC_GROUP_KINDS"), false);
  });

  test("service-account signals need a word or prefix, not just a missing name", () => {
    assert.deepEqual(serviceAccountSignals({ userPrincipalName: "svc-backup@contoso.com" }).pattern, "svc-*");
    assert.match(serviceAccountSignals({ userPrincipalName: "alerts@contoso.com", mail: "no-reply@contoso.com", displayName: "No Reply" }).signals.join(), /no-reply/);
    assert.equal(serviceAccountSignals({ userPrincipalName: "aoife.appleby@contoso.com", givenName: "Aoife", surname: "Appleby" }).signals.length, 0, "app inside a surname is not a signal");
    assert.equal(serviceAccountSignals({ userPrincipalName: "madonna@contoso.com" }).signals.length, 0, "a missing name alone is not enough");
  });

  test("resource accounts are suggested: rooms, equipment, shared mailboxes, by address and display name shapes", () => {
    assert.equal(serviceAccountSignals({ userPrincipalName: "room-101@contoso.com", displayName: "Room 101" }).pattern, "room-*");
    assert.equal(serviceAccountSignals({ userPrincipalName: "conf.room.berlin@contoso.com" }).pattern, "conf.room.*");
    assert.equal(serviceAccountSignals({ userPrincipalName: "av-equipment2@contoso.com" }).pattern, "*equipment*");
    assert.equal(serviceAccountSignals({ userPrincipalName: "shared-finance@contoso.com", displayName: "Finance shared mailbox" }).pattern, "shared-*");
    assert.ok(serviceAccountSignals({ userPrincipalName: "accounts@contoso.com", displayName: "Accounts Shared Mailbox", givenName: null, surname: null }).signals.length > 0, "a shared mailbox named so in its display name");
    assert.ok(serviceAccountSignals({ userPrincipalName: "beamer7@contoso.com", displayName: "Beamer 7 (Equipment)" }).signals.length > 0, "(Equipment) in the display name");
    assert.ok(serviceAccountSignals({ userPrincipalName: "b.hall@contoso.com", displayName: "Boardroom Hall" }).signals.some((signal) => signal.includes("no given name")), "no given name or surname strengthens a display-name sign");
    assert.equal(serviceAccountSignals({ userPrincipalName: "rosa.broom@contoso.com", givenName: "Rosa", surname: "Broom", displayName: "Rosa Broom" }).signals.length, 0, "room inside a surname is no sign");
  });

  test("each suggested pattern counts accounts, not addresses: one matching on both its user principal name and mail counts once", async () => {
    const sync = memorySync();
    const d = sync.directory;
    d.addUser("Room 1", { userPrincipalName: "room-1@contoso.com", mail: "room-1@contoso.com", givenName: null, surname: null });
    d.addUser("Room 2", { userPrincipalName: "room-2@contoso.com", mail: "room-2@contoso.com", givenName: null, surname: null });
    d.addUser("Ann", { givenName: "Ann", surname: "Lee" });
    await sync.engine().run();
    const report = await suggestServiceAccounts(sync.store);
    assert.deepEqual(report.patterns.find((pattern) => pattern.pattern === "room-*"), { pattern: "room-*", wouldExclude: 2 });
    assert.equal(report.suggestions.length, 2);
  });
});
