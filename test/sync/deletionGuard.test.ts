// The accidental-deletion guard: a run that would delete too many people holds the deletions until an admin allows them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 29, users: 60, groups: 6 }) });
});
after(async () => env?.stop());

const live = () => [...env.model.users.values()].filter((user) => !user.deleted);

describe("accidental-deletion threshold", () => {
  test("too many deletions are held (run quarantined, everything else applied) until a run allows them", async () => {
    const settings = env.settings({ DELETION_THRESHOLD_COUNT: "3", DELETION_THRESHOLD_PERCENT: "0" });
    await env.compose(settings).engine.run();
    const [a, b, c, d, e, renamed] = live();
    env.model.softDeleteUser(a!.id);
    env.model.softDeleteUser(b!.id);
    env.model.hardDeleteUser(c!.id);
    env.model.softDeleteUser(d!.id);
    env.model.updateUser(renamed!.id, { displayName: "Renamed While Quarantined" });

    const dry = await env.compose(settings).engine.run({ dryRun: true });
    assert.equal(dry.summary.status, "succeeded");
    assert.ok(dry.summary.warnings.some((warning) => /^This run would hold 4 user deletions: more than 3 users/.test(warning)), dry.summary.warnings.join("; "));

    const held = await env.compose(settings).engine.run();
    assert.equal(held.summary.status, "quarantined");
    assert.equal(held.summary.heldDeletions?.count, 4);
    assert.equal(held.summary.heldDeletions?.sample.length, 4);
    assert.equal(held.summary.users.softDeleted + held.summary.users.deleted, 0);
    const store = env.compose(settings).store;
    const stored = await store.readObjects("users", [a!.id, c!.id, renamed!.id]);
    assert.equal(stored.get(a!.id)?.deleted, false, "not deleted while held");
    assert.ok(stored.has(c!.id), "not removed while held");
    assert.equal(stored.get(renamed!.id)?.properties.displayName, "Renamed While Quarantined", "the rest of the run was applied");

    const still = await env.compose(settings).engine.run();
    assert.equal(still.summary.status, "quarantined", "held deletions stay held across runs");

    env.model.restoreUser(d!.id);
    env.model.softDeleteUser(e!.id);
    const allowed = await env.compose(settings).engine.run({ allowDeletions: true });
    assert.equal(allowed.summary.status, "succeeded", allowed.summary.error);
    assert.equal(allowed.summary.users.softDeleted, 3, "a, b and e; d came back before the deletions were allowed");
    assert.equal(allowed.summary.users.deleted, 1);
    assertStoreMatches(await store.snapshot(), env.model);
    assert.equal((await store.readObjects("users", [d!.id])).get(d!.id)?.deleted, false);
  });

  test("a full read that finds most users gone (an expired token) is held by the percentage limit", async () => {
    const settings = env.settings({ DELETION_THRESHOLD_COUNT: "0", DELETION_THRESHOLD_PERCENT: "10" });
    await env.compose(settings).engine.run();
    const vanishing = live().slice(0, 12);
    for (const user of vanishing) env.model.hardDeleteUser(user.id);
    env.standIn.faults.expireDeltaTokens("gone");
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "quarantined", run.summary.error);
    assert.equal(run.summary.heldDeletions?.count, 12);
    assert.ok(run.summary.heldDeletions?.sample.every((entry) => /not found by a full read/.test(entry)));
    const stored = await env.compose(settings).store.readObjects("users", vanishing.map((user) => user.id));
    assert.equal(stored.size, 12);
    assert.ok([...stored.values()].every((user) => !user.deleted), "nobody was marked deleted");
    const allowed = await env.compose(settings).engine.run({ allowDeletions: true });
    assert.equal(allowed.summary.status, "succeeded");
    // Deleted for good in Entra (not in its deleted items), so removed, not marked deleted.
    assert.equal(allowed.summary.users.deleted, 12);
    assert.equal((await env.compose(settings).store.readObjects("users", vanishing.map((user) => user.id))).size, 0);
  });
});
