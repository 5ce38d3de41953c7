// A CLI sync stopped with Ctrl-C or SIGTERM lets the tenant go and the next run carries on; a killed one is taken over once its short lease lapses.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadSettings } from "../../src/config/settings";
import { createTables } from "../../src/compositionRoot";
import { RunLeases } from "../../src/service/runLease";
import { RunLog } from "../../src/store/runLog";
import { emptyStoreMetrics } from "../../src/store/tableWriter";
import type { SyncRunSummary } from "../../src/sync/syncRun";
import { DirectoryModel } from "../../standin/directoryModel";
import { startIdentityEnvironment, type IdentityEnvironment } from "../identity/identityEnvironment";

const cli = resolve(__dirname, "../../src/cli/main.js");

let world: IdentityEnvironment;
before(async () => {
  // Small pages and a little latency, so a full read takes several seconds and can be stopped in the middle.
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 23, users: 120, groups: 5 }), usersPageSize: 4 });
});
after(async () => world?.stop());

interface Started {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startCli(args: string[], environment: Record<string, string>): Started {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? "", IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT ?? "", IDENTITY_HEADER: process.env.IDENTITY_HEADER ?? "", ...environment },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((done) => child.once("close", (code) => done(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Waits until the run reports its first users page, then a little longer, so it is well into the read. */
async function untilMidRun(started: Started): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !/users: \d+ pages/.test(started.stderr())) {
    if (started.child.exitCode !== null) assert.fail(`the CLI ended before it could be stopped: ${started.stderr()}`);
    await new Promise((done) => setTimeout(done, 50));
  }
  await new Promise((done) => setTimeout(done, 400));
  assert.equal(started.child.exitCode, null, `still running when signalled: ${started.stderr()}`);
}

function stores(environment: Record<string, string>) {
  const settings = loadSettings(environment);
  const tables = createTables(settings);
  return { leases: new RunLeases(tables.syncState, 60_000), runLog: new RunLog(tables.runs, settings.tenantId, emptyStoreMetrics()), tenantId: settings.tenantId };
}

describe("stopping a CLI sync", () => {
  for (const [signal, exitCode] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} mid-run saves the checkpoint, releases the lease, says how to resume, and the next sync carries on`, async () => {
      const environment = world.environment();
      world.env.standIn.faults.latencyMs = 100;
      try {
        const first = startCli(["sync"], { ...environment });
        await untilMidRun(first);
        first.child.kill(signal);
        assert.equal(await first.exit, exitCode, first.stderr());
        const { leases, runLog, tenantId } = stores(environment);
        assert.equal(await leases.read(tenantId), undefined, "the tenant is free at once");
        const [stopped] = await runLog.listRecent(1);
        assert.equal(stopped?.status, "paused");
        assert.match(first.stderr(), new RegExp(`Run ${stopped!.runId} of tenant ${tenantId} stopped on ${signal} at a checkpoint \\(users page \\d+, groups page \\d+\\) and released the tenant's lease\\. Resume with: entra-sync sync `));

        world.env.standIn.faults.latencyMs = 0;
        const requestsBefore = world.env.standIn.graphRequestCount();
        const second = startCli(["sync", "--json"], { ...environment });
        assert.equal(await second.exit, 0, second.stderr());
        const summary = JSON.parse(second.stdout()) as SyncRunSummary;
        assert.equal(summary.status, "succeeded");
        assert.equal(summary.runId, stopped!.runId, "the same run carried on");
        assert.match(second.stderr(), /continued run .* which was stopped at a checkpoint/);
        const fullReadPages = summary.streams.users.pages + summary.streams.groups.pages;
        assert.ok(world.env.standIn.graphRequestCount() - requestsBefore < fullReadPages, "pages read before the stop were not read again");
        assert.equal(summary.users.created, [...world.env.model.users.values()].filter((user) => !user.deleted).length, "every user once, across both invocations");
      } finally {
        world.env.standIn.faults.latencyMs = 0;
      }
    });
  }

  test("a holder that crashed (SIGKILL) is taken over once its short lease lapses, and the next sync finishes the run", async () => {
    assert.ok(loadSettings({ ENTRA_TENANT_ID: world.env.standIn.tenantId, DirectoryStorage: world.env.azurite.connectionString }).leaseTtlSeconds <= 60, "by default a crashed run frees the tenant within a minute");
    const environment = world.environment({ SYNC_LEASE_TTL_SECONDS: "2" });
    world.env.standIn.faults.latencyMs = 100;
    try {
      const first = startCli(["sync"], environment);
      await untilMidRun(first);
      first.child.kill("SIGKILL");
      await first.exit;
      const { leases, tenantId } = stores(environment);
      const held = await leases.read(tenantId);
      assert.equal(held?.state, "running", "a killed run cannot release its lease");
      world.env.standIn.faults.latencyMs = 0;
      await new Promise((done) => setTimeout(done, Date.parse(held!.expiresAt) - Date.now() + 100));
      const second = startCli(["sync", "--json"], environment);
      assert.equal(await second.exit, 0, second.stderr());
      assert.match(second.stderr(), new RegExp(`took over from run ${held!.runId}, whose lease had expired`));
      assert.equal((JSON.parse(second.stdout()) as SyncRunSummary).status, "succeeded");
      const killed = await stores(environment).runLog.get(held!.runId);
      assert.deepEqual({ status: killed?.status, abandoned: /^Abandoned: .* took the tenant over/.test(killed?.error ?? "") }, { status: "failed", abandoned: true }, "the killed run's record does not stay running");
    } finally {
      world.env.standIn.faults.latencyMs = 0;
    }
  });
});
