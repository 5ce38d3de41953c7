// Devices (SYNC_DEVICES): off by default, and when on, devices/delta kept in the devices table with their group memberships.
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { after, before, describe, test } from "node:test";
import type { Settings } from "../../src/config/settings";
import { runConnectionCheck } from "../../src/check/connectionCheck";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, standInClient, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 61, users: 30, groups: 5, devices: 12 }), standIn: { devicesPageSize: 5 } });
});
after(async () => env?.stop());

const withDevicePermission = () => env.standIn.updateClient(standInClient.clientId, { roles: ["User.Read.All", "GroupMember.Read.All", "Device.Read.All"] });
const withoutDevicePermission = () => env.standIn.updateClient(standInClient.clientId, { roles: ["User.Read.All", "GroupMember.Read.All"] });

/** The settings the check reads, as app settings; the credential is the stand-in client's. */
function checkEnvironment(settings: Settings): Record<string, string> {
  return { ENTRA_TENANT_ID: settings.tenantId, GRAPH_ENDPOINT: env.standIn.url, AUTHORITY_HOST: env.standIn.url, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix, ENTRA_CREDENTIAL_MODE: "federatedCredential", ENTRA_CLIENT_ID: standInClient.clientId };
}

/** A fresh credential each time, so a token issued before a role change is not reused. */
function credential(settings: Settings): ClientSecretCredential {
  return new ClientSecretCredential(settings.tenantId, standInClient.clientId, standInClient.clientSecret, { authorityHost: settings.authorityHost, disableInstanceDiscovery: true });
}

async function storedDevices(settings: Settings): Promise<Map<string, Record<string, unknown>>> {
  const devices = new Map<string, Record<string, unknown>>();
  for await (const device of env.compose(settings).store.listObjects("devices")) devices.set(device.id, device.properties);
  return devices;
}

function assertDevicesMatch(stored: Map<string, Record<string, unknown>>): void {
  assert.deepEqual([...stored.keys()].sort(), [...env.model.devices.keys()].sort());
  for (const device of env.model.devices.values()) {
    const row = stored.get(device.id)!;
    for (const name of ["deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "accountEnabled", "trustType", "approximateLastSignInDateTime"] as const) {
      assert.equal(row[name] ?? null, device[name], `${device.id} ${name}`);
    }
  }
}

describe("devices", () => {
  test("off by default: no devices/delta request and no device rows, but device memberships are kept by id", async () => {
    withoutDevicePermission();
    const settings = env.settings();
    const before = env.standIn.requests.length;
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.ok(!env.standIn.requests.slice(before).some((request) => request.path.includes("/devices")), "devices are not read");
    assert.equal((await storedDevices(settings)).size, 0);
    assert.equal(run.summary.devices, undefined);
    const members = (await env.compose(settings).store.snapshot()).members;
    assert.ok(members.some((row) => row.memberType === "device"), "device memberships are in the Members table");
    const check = await runConnectionCheck(checkEnvironment(settings), { credential: credential(settings) });
    assert.ok(check.results.some((result) => result.check === "graphPermissions" && result.outcome === "pass"), JSON.stringify(check.results));
    assert.ok(!JSON.stringify(check).includes("Device.Read.All"), "Device.Read.All is not asked for");
  });

  test("on: a full read fills the devices table; creates, updates and deletes follow incrementally, memberships with them", async () => {
    withDevicePermission();
    const settings = env.settings({ SYNC_DEVICES: "true" });
    const first = await env.compose(settings).engine.run();
    assert.equal(first.summary.status, "succeeded", first.summary.error);
    assert.equal(first.summary.streams.devices?.fullRead, true);
    assert.equal(first.summary.devices?.created, env.model.devices.size);
    assertDevicesMatch(await storedDevices(settings));

    const model = env.model;
    const [changed, removed] = [...model.devices.values()];
    const group = [...model.groups.values()].find((candidate) => !candidate.deleted)!;
    const added = model.createDevice({ displayName: "LAB-PC-42" });
    model.addMember(group.id, added.id);
    model.updateDevice(changed!.id, { operatingSystemVersion: "10.0.26100", accountEnabled: false });
    model.addMember(group.id, removed!.id);
    const withMember = await env.compose(settings).engine.run();
    assert.equal(withMember.summary.status, "succeeded", withMember.summary.error);
    model.deleteDevice(removed!.id);
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.equal(run.summary.streams.devices?.fullRead, false, "incremental");
    assert.equal(run.summary.devices?.deleted, 1);
    assertDevicesMatch(await storedDevices(settings));
    const store = env.compose(settings).store;
    assert.ok((await store.listMembers(group.id)).some((row) => row.memberId === added.id && row.memberType === "device" && row.active));
    assert.ok(!(await store.listMembers(group.id)).some((row) => row.memberId === removed!.id), "a deleted device leaves its groups");
    assert.equal((await store.readMemberGroupsRows([removed!.id])).size, 0, "nor keeps its list of groups");

    const quiet = await env.compose(settings).engine.run();
    assert.equal(quiet.summary.directoryWrites.entitiesWritten, 0);
    assert.ok(quiet.summary.graph.requests <= 4, `${quiet.summary.graph.requests} requests for a no-op run with devices`);
  });

  test("on without Device.Read.All: the run fails naming the permission, and the check asks for it", async () => {
    withoutDevicePermission();
    const settings = env.settings({ SYNC_DEVICES: "true" });
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "failed");
    assert.match(run.summary.error ?? "", /devices\/delta.*403/s);
    const report = await runConnectionCheck({ ...checkEnvironment(settings), SYNC_DEVICES: "true" }, { credential: credential(settings) });
    const permission = report.results.find((result) => result.check === "graphPermissions" && result.outcome === "fail");
    assert.match(permission?.message ?? "", /Device\.Read\.All/);
    withDevicePermission();
  });
});
