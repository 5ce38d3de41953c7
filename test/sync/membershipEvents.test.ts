// Membership events on in-memory tables: only visible memberships, the same from a full read as from an incremental one, and none lost or doubled by a pause or a crash.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ChangeEvent, ChangeSink } from "../../src/directory/changeEvents";
import { memorySync, type MemorySync } from "./support/memorySync";

const scope = { includeGroupPatterns: ["Staff - *"], groupKinds: ["security" as const] };

/** Keeps events as the change feed does: one row per time, run and change, so recording the same event twice leaves one. */
function feedLikeSink(options: { failOnMembership?: "before" | "after" } = {}): ChangeSink & { events: () => ChangeEvent[] } {
  const rows = new Map<string, ChangeEvent>();
  let failure = options.failOnMembership;
  return {
    events: () => [...rows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, event]) => event),
    record: async (events) => {
      const dies = events.some((event) => event.kind.startsWith("membership")) ? failure : undefined;
      if (dies) failure = undefined;
      if (dies === "before") throw new Error("the worker died before recording");
      for (const event of events) rows.set(`${event.at}_${event.runId}_${event.kind}|${event.objectId}|${event.groupId ?? ""}`, event);
      if (dies === "after") throw new Error("the worker died before removing what it recorded");
    },
  };
}

function membershipEvents(events: ChangeEvent[]): string[] {
  return events.filter((event) => event.kind.startsWith("membership")).map((event) => `${event.kind} ${event.objectId}>${event.groupId}`).sort();
}

/** A tenant with a scope group, a plain security group, a Microsoft 365 group (a kind not synced), and users in and out of the scope. */
async function tenantWithChurn(): Promise<{ sync: MemorySync; expected: string[] }> {
  const sync = memorySync();
  const d = sync.directory;
  const [inside, leaver, outside, newcomer] = [d.addUser("Nia"), d.addUser("Lou"), d.addUser("Oz"), d.addUser("Pat")];
  const staff = d.addGroup("Staff - Ops", [inside!, leaver!]);
  const choir = d.addGroup("Choir", [leaver!]);
  const unified = d.addGroup("Team site", [], "microsoft365");
  const band = d.addGroup("Band", []);
  const run = await sync.engine({ scope }).run();
  assert.equal(run.summary.status, "succeeded", run.summary.error);
  d.addMember(choir, inside!);
  d.addMember(choir, outside!);
  d.addMember(unified, inside!);
  d.removeMember(choir, leaver!);
  d.addMember(choir, band);
  d.addMember(choir, unified);
  d.addMember(staff, newcomer!);
  const expected = [`membershipAdded ${inside}>${choir}`, `membershipRemoved ${leaver}>${choir}`, `membershipAdded ${band}>${choir}`, `membershipAdded ${newcomer}>${staff}`].sort();
  return { sync, expected };
}

describe("membership events", () => {
  test("a full read of a store with data records the same membership events as an incremental run: visible ones, and only real changes", async () => {
    const incremental = await tenantWithChurn();
    const incrementalSink = feedLikeSink();
    const byDelta = await incremental.sync.engine({ scope, changeSink: incrementalSink }).run();
    assert.equal(byDelta.summary.mode, "incremental");
    assert.deepEqual(membershipEvents(incrementalSink.events()), incremental.expected, "no event for the user outside the scope, the Microsoft 365 group or its membership");

    const full = await tenantWithChurn();
    const fullSink = feedLikeSink();
    const byFullRead = await full.sync.engine({ scope, changeSink: fullSink }).run({ mode: "full" });
    assert.equal(byFullRead.summary.status, "succeeded", byFullRead.summary.error);
    assert.equal(byFullRead.summary.streams.groups.fullRead, true);
    assert.deepEqual(membershipEvents(fullSink.events()), full.expected, "the same events, and none for memberships that did not change");

    const again = feedLikeSink();
    await full.sync.engine({ scope, changeSink: again }).run({ mode: "full" });
    assert.deepEqual(membershipEvents(again.events()), [], "a full read with nothing changed reports no membership");
  });

  /** A synced tenant where a newcomer joins a scope group and another group, one change per delta page, so a run can pause between them. */
  async function newcomerJoinsOnePagePerChange() {
    const sync = memorySync();
    const d = sync.directory;
    const [inside, newcomer] = [d.addUser("Nia"), d.addUser("Pat")];
    const staff = d.addGroup("Staff - Ops", [inside!]);
    const choir = d.addGroup("Choir", []);
    await sync.engine({ scope }).run();
    d.pageSize = 1;
    d.addMember(staff, newcomer!);
    d.addMember(choir, newcomer!);
    return { sync, inside: inside!, newcomer: newcomer!, staff, choir };
  }

  test("a run that pauses after a user's membership keeps the event until the continuation, which records it once the user entered the scope", async () => {
    const { sync, newcomer, staff, choir } = await newcomerJoinsOnePagePerChange();
    const sink = feedLikeSink();
    const paused = await sync.engine({ scope, changeSink: sink }).run({ deadline: Date.now() });
    assert.equal(paused.summary.status, "paused");
    assert.deepEqual(membershipEvents(sink.events()), [], "not decided yet: the newcomer is not stored before the run completes");
    const continued = await sync.engine({ scope, changeSink: sink }).run({ continues: paused.summary });
    assert.equal(continued.summary.status, "succeeded", continued.summary.error);
    assert.deepEqual(membershipEvents(sink.events()), [`membershipAdded ${newcomer}>${choir}`, `membershipAdded ${newcomer}>${staff}`].sort());
    assert.ok(sink.events().some((event) => event.kind === "userCreated" && event.objectId === newcomer));
    assert.ok(sink.events().every((event) => event.runId === paused.summary.runId), "the continuation records them as the run they belong to");
    const memberships = sink.events().filter((event) => event.kind.startsWith("membership"));
    assert.ok(memberships.every((event) => event.at > paused.summary.endedAt!), "stamped when recorded: a reader that settled at the pause does not skip them");
  });

  for (const failOnMembership of ["before", "after"] as const) {
    test(`a run that dies ${failOnMembership} recording its membership events records each exactly once when it is run again`, async () => {
      const { sync, inside, newcomer, staff, choir } = await newcomerJoinsOnePagePerChange();
      sync.directory.removeMember(staff, inside);
      const sink = feedLikeSink({ failOnMembership });
      const paused = await sync.engine({ scope, changeSink: sink }).run({ deadline: Date.now() });
      assert.equal(paused.summary.status, "paused");
      const failed = await sync.engine({ scope, changeSink: sink }).run({ continues: paused.summary });
      assert.equal(failed.summary.status, "failed");
      const retried = await sync.engine({ scope, changeSink: sink }).run({ continues: paused.summary });
      assert.equal(retried.summary.status, "succeeded", retried.summary.error);
      const expected = [`membershipAdded ${newcomer}>${choir}`, `membershipAdded ${newcomer}>${staff}`].sort();
      assert.deepEqual(membershipEvents(sink.events()), expected, "Nia left the scope with her last scope group, so her removal is no one's news");
      const next = feedLikeSink();
      await sync.engine({ scope, changeSink: next }).run();
      assert.deepEqual(membershipEvents(next.events()), [], "nothing left behind for the next run");
    });
  }
});
