// GET /v1.0/devices/delta on the stand-in, read with the real Graph SDK: paging, incremental rounds, $select, $filter, tokens and roles.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { DirectoryModel, type ModelDevice } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { errorCode, graphClientFor, rawGet, readRound, startStandIn } from "./standInTestSupport";

const appClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };
const deviceReader = { clientId: "44444444-4444-4444-4444-444444444444", clientSecret: "device-reader" };
const directoryReader = { clientId: "55555555-5555-5555-5555-555555555555", clientSecret: "directory-reader" };
const clients = [
  { ...appClient, roles: ["User.Read.All", "GroupMember.Read.All"] },
  { ...deviceReader, roles: ["Device.Read.All", "GroupMember.Read.All"] },
  { ...directoryReader, roles: ["Directory.Read.All"] },
];
const modelled = ["accountEnabled", "approximateLastSignInDateTime", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "trustType"] as const;
const deviceSelect = modelled.join(",");

function edgesOf(model: DirectoryModel): string[] {
  return [...model.members].flatMap(([groupId, edges]) => [...edges].map(([memberId, type]) => `${groupId} ${memberId} ${type}`)).sort();
}

function modelView(device: ModelDevice): Record<string, unknown> {
  return Object.fromEntries([...modelled.map((name) => [name, device[name]]), ["id", device.id]]);
}

describe("generated devices", () => {
  it("leave the users, groups and memberships a seed produces unchanged, with or without the devices option", () => {
    const plain = DirectoryModel.generate({ seed: 12, users: 30, groups: 8 });
    const none = DirectoryModel.generate({ seed: 12, users: 30, groups: 8, devices: 0 });
    const some = DirectoryModel.generate({ seed: 12, users: 30, groups: 8, devices: 10 });
    for (const model of [none, some]) {
      assert.deepEqual([...model.users.values()], [...plain.users.values()]);
      assert.deepEqual([...model.groups.values()], [...plain.groups.values()]);
      assert.equal(model.sequence, 0, "generation is not in the change log");
    }
    assert.deepEqual(edgesOf(none), edgesOf(plain));
    assert.deepEqual([...none.devices.values()], [...plain.devices.values()]);
    const extra = [...some.devices.keys()].filter((id) => !plain.devices.has(id));
    assert.equal(extra.length, 10);
    assert.deepEqual(edgesOf(some).filter((edge) => !extra.some((id) => edge.includes(id))), edgesOf(plain), "extra devices only add edges");
    const joined = extra.filter((id) => some.memberOf(id).length > 0);
    assert.ok(joined.length > 0 && joined.length < extra.length, `some, not all, extra devices are group members (${joined.length})`);
    assert.deepEqual(DirectoryModel.generate({ seed: 12, users: 30, groups: 8, devices: 10 }).devices, some.devices, "deterministic");
  });

  it("give every device, including those generated as members, the documented properties", () => {
    const model = DirectoryModel.generate({ seed: 3, users: 5, groups: 10, devices: 20 });
    const memberDevices = [...model.otherObjects].filter(([, type]) => type === "device").map(([id]) => id);
    assert.deepEqual(memberDevices.sort(), [...model.devices.keys()].sort());
    for (const device of model.devices.values()) {
      assert.match(device.deviceId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(device.displayName.length > 0 && device.operatingSystem.length > 0 && device.operatingSystemVersion.length > 0);
      assert.ok(device.trustType === null || ["Workplace", "AzureAd", "ServerAd"].includes(device.trustType));
      if (device.approximateLastSignInDateTime !== null) assert.match(device.approximateLastSignInDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const groupless = DirectoryModel.generate({ seed: 3, users: 5, groups: 0, devices: 4 });
    assert.equal(groupless.devices.size, 4, "devices need no groups");
    const created = model.createOtherObject("device");
    assert.ok(model.devices.has(created), "createOtherObject('device') registers a device");
  });
});

describe("devices/delta", () => {
  let standIn: GraphStandIn;
  let model: DirectoryModel;
  before(async () => {
    model = DirectoryModel.generate({ seed: 31, users: 10, groups: 10, devices: 9 });
    standIn = await startStandIn({ model, clients, devicesPageSize: 4 });
  });
  afterEach(() => standIn.faults.clear());
  after(async () => standIn.stop());

  it("pages through every device with nextLinks to a deltaLink, returning every property by default", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const round = await readRound(client, "/devices/delta");
    const ids = round.objects.map((object) => object["id"] as string);
    assert.equal(new Set(ids).size, ids.length, "no device twice");
    assert.deepEqual([...ids].sort(), [...model.devices.keys()].sort());
    assert.equal(model.devices.size, 11, "two member devices and nine more");
    assert.equal(round.pages.length, Math.ceil(ids.length / 4));
    assert.equal(round.pages[0]?.["@odata.context"], `${standIn.url}/v1.0/$metadata#devices`);
    assert.match(round.pages[0]?.["@odata.nextLink"] as string, new RegExp(`^${standIn.url}/v1\\.0/devices/delta\\?\\$skiptoken=[A-Za-z0-9_.-]+$`));
    assert.match(round.deltaLink, new RegExp(`^${standIn.url}/v1\\.0/devices/delta\\?\\$deltatoken=[A-Za-z0-9_.-]+$`));
    for (const object of round.objects) {
      const device = model.devices.get(object["id"] as string) as ModelDevice;
      for (const name of modelled) assert.deepEqual(object[name], device[name], `${device.id} ${name}`);
      assert.deepEqual(object["physicalIds"], []);
      assert.equal(object["isCompliant"], null);
    }
  });

  it("reports exactly the devices created, updated and deleted since the deltaLink", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const full = await readRound(client, `/devices/delta?$select=${deviceSelect}`);
    const groupsFull = await readRound(client, "/groups/delta?$select=displayName,members");
    const [updated, deleted] = [...model.devices.values()].sort((a, b) => model.memberOf(b.id).length - model.memberOf(a.id).length) as [ModelDevice, ModelDevice];
    const deletedFrom = model.memberOf(deleted.id);
    assert.ok(deletedFrom.length > 0, "the seed puts the deleted device in a group");
    const created = model.createDevice({ displayName: "Björn's Surface", operatingSystem: "Windows", trustType: "AzureAd" });
    model.updateDevice(updated.id, { displayName: "Renamed laptop", accountEnabled: !updated.accountEnabled });
    model.updateDevice(updated.id, { operatingSystemVersion: updated.operatingSystemVersion });
    model.deleteDevice(deleted.id);
    const transient = model.createDevice();
    model.deleteDevice(transient.id);

    const next = await readRound(client, full.deltaLink);
    assert.deepEqual(next.objects, [
      modelView(created),
      { displayName: "Renamed laptop", accountEnabled: !updated.accountEnabled, id: updated.id },
      { id: deleted.id, "@removed": { reason: "deleted" } },
    ]);

    const groupsNext = await readRound(client, groupsFull.deltaLink);
    for (const groupId of deletedFrom) {
      const entries = groupsNext.objects.filter((object) => object["id"] === groupId).flatMap((object) => object["members@delta"] as unknown[]);
      assert.deepEqual(entries, [{ "@odata.type": "#microsoft.graph.device", id: deleted.id, "@removed": { reason: "deleted" } }], `deleted device leaves ${groupId}`);
    }

    const quiet = await readRound(client, next.deltaLink);
    assert.deepEqual(quiet.objects, []);
    assert.equal(quiet.pages.length, 1);
  });

  it("$select limits the properties returned and tracked", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const full = await readRound(client, "/devices/delta?$select=displayName,operatingSystem");
    for (const object of full.objects) assert.deepEqual(Object.keys(object).sort(), ["displayName", "id", "operatingSystem"]);
    assert.equal(full.pages[0]?.["@odata.context"], `${standIn.url}/v1.0/$metadata#devices(displayName,operatingSystem)`);
    assert.equal(full.pages[1]?.["@odata.context"], `${standIn.url}/v1.0/$metadata#devices`);
    const [untracked, tracked] = [...model.devices.values()] as [ModelDevice, ModelDevice];
    model.updateDevice(untracked.id, { approximateLastSignInDateTime: "2024-06-02T09:30:00Z", trustType: "ServerAd" });
    model.updateDevice(tracked.id, { operatingSystem: "Linux", operatingSystemVersion: "6.8" });
    const next = await readRound(client, full.deltaLink);
    assert.deepEqual(next.objects, [{ operatingSystem: "Linux", id: tracked.id }]);
  });

  it("answers 400 to unknown $select properties and unsupported options, as for users", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const unknown = await rawGet(client, "/devices/delta?$select=displayName,favouriteColour");
    assert.equal(unknown.status, 400);
    assert.equal(errorCode(unknown.body), "BadRequest");
    assert.equal((unknown.body["error"] as Record<string, unknown>)["message"], "Could not find a property named 'favouriteColour' on type 'microsoft.graph.device'.");
    const userOnly = await rawGet(client, "/devices/delta?$select=userPrincipalName");
    assert.equal(userOnly.status, 400);
    for (const option of ["$top=5", "$orderby=displayName", "$expand=registeredOwners", "$filter=startswith(displayName,'A')"]) {
      const response = await rawGet(client, `/devices/delta?${option}`);
      assert.equal(response.status, 400, option);
    }
  });

  it("$filter=id eq … or id eq … limits full and incremental rounds to those devices", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const [a, b, c] = [...model.devices.values()] as [ModelDevice, ModelDevice, ModelDevice];
    const full = await readRound(client, `/devices/delta?$filter=id eq '${a.id}' or id eq '${b.id}'&$select=displayName`);
    assert.deepEqual(full.objects.map((object) => object["id"]).sort(), [a.id, b.id].sort());
    model.updateDevice(a.id, { displayName: "Filtered A" });
    model.updateDevice(c.id, { displayName: "Not In Filter" });
    const next = await readRound(client, full.deltaLink);
    assert.deepEqual(next.objects, [{ displayName: "Filtered A", id: a.id }]);
  });

  it("$deltatoken=latest returns no devices and a deltaLink that tracks from now", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const latest = (await client.api("/devices/delta?$deltatoken=latest&$select=displayName").get()) as Record<string, unknown>;
    assert.deepEqual(latest["value"], []);
    assert.equal(latest["@odata.nextLink"], undefined);
    const created = model.createDevice({ displayName: "After latest" });
    const next = await readRound(client, latest["@odata.deltaLink"] as string);
    assert.deepEqual(next.objects, [{ displayName: "After latest", id: created.id }]);
  });

  it("expires its tokens, throttles and rejects tokens of other resources like users and groups", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const round = await readRound(client, "/devices/delta?$select=displayName");
    const midRound = round.pages[0]?.["@odata.nextLink"] as string;
    const users = await readRound(graphClientFor(standIn, directoryReader), "/users/delta?$select=displayName");
    const usersToken = new URL(users.deltaLink).searchParams.get("$deltatoken") as string;
    const crossed = await rawGet(client, `/devices/delta?$deltatoken=${usersToken}`);
    assert.equal(crossed.status, 400, "a users token is not a devices token");

    standIn.faults.throttleNext(1, 0);
    const throttledRound = await readRound(client, round.deltaLink);
    assert.ok(Array.isArray(throttledRound.objects), "the SDK retries a 429 on devices/delta");

    standIn.faults.expireDeltaTokens("gone");
    for (const link of [round.deltaLink, midRound]) {
      const gone = await rawGet(client, link);
      assert.equal(gone.status, 410);
      assert.equal(errorCode(gone.body), "resyncRequired");
      assert.equal(gone.headers.get("location"), `${standIn.url}/v1.0/devices/delta?$select=displayName`);
    }
  });

  it("accepts the fully qualified function name and answers 404 for device paths it does not serve", async () => {
    const client = graphClientFor(standIn, deviceReader);
    const round = await readRound(client, "/devices/microsoft.graph.delta()?$select=displayName");
    assert.equal(round.objects.length, model.devices.size);
    const list = await rawGet(client, "/devices");
    assert.equal(list.status, 404);
  });

  it("requires Device.Read.All (or Directory.Read.All): other apps get 403 Authorization_RequestDenied", async () => {
    const denied = await rawGet(graphClientFor(standIn, appClient), "/devices/delta?$select=displayName");
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied.body), "Authorization_RequestDenied");
    assert.equal((denied.body["error"] as Record<string, unknown>)["message"], "Insufficient privileges to complete the operation.");
    const directory = await rawGet(graphClientFor(standIn, directoryReader), "/devices/delta?$select=displayName");
    assert.equal(directory.status, 200);
    const devicesOnly = await rawGet(graphClientFor(standIn, deviceReader), "/users/delta?$select=displayName");
    assert.equal(devicesOnly.status, 403, "Device.Read.All does not open users");
  });
});
