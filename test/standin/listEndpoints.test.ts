// The stand-in's plain Graph endpoints (list and get users and groups, group members), its errors, headers and resource units.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DirectoryModel, type ModelUser } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { errorCode, graphClientFor, rawGet, startStandIn } from "./standInTestSupport";

describe("list and get endpoints", () => {
  let standIn: GraphStandIn;
  let model: DirectoryModel;
  let softDeleted: ModelUser;
  before(async () => {
    model = DirectoryModel.generate({ seed: 6, users: 25, groups: 6 });
    softDeleted = [...model.users.values()][4] as ModelUser;
    model.softDeleteUser(softDeleted.id);
    standIn = await startStandIn({ model });
  });
  after(async () => standIn.stop());

  it("pages GET /users with $top and $skiptoken nextLinks, listing each live user once", async () => {
    const client = graphClientFor(standIn);
    const ids: string[] = [];
    let page = (await client.api("/users?$top=7&$select=displayName,userPrincipalName").get()) as Record<string, unknown>;
    assert.equal(page["@odata.context"], `${standIn.url}/v1.0/$metadata#users(displayName,userPrincipalName)`);
    for (;;) {
      const values = page["value"] as Array<Record<string, unknown>>;
      assert.ok(values.length <= 7);
      for (const value of values) assert.deepEqual(Object.keys(value).sort(), ["displayName", "id", "userPrincipalName"]);
      ids.push(...values.map((value) => value["id"] as string));
      const next = page["@odata.nextLink"] as string | undefined;
      if (!next) break;
      assert.match(next, /\/v1\.0\/users\?\$skiptoken=/);
      page = (await client.api(next).get()) as Record<string, unknown>;
    }
    assert.deepEqual(ids.sort(), [...model.users.values()].filter((user) => !user.deleted).map((user) => user.id).sort());
    const tooMany = await rawGet(client, "/users?$top=1000");
    assert.equal(tooMany.status, 400);
  });

  it("gets a user by id or userPrincipalName, and answers 404 Request_ResourceNotFound for a deleted one", async () => {
    const client = graphClientFor(standIn);
    const user = [...model.users.values()][0] as ModelUser;
    const byId = (await client.api(`/users/${user.id}`).get()) as Record<string, unknown>;
    assert.equal(byId["displayName"], user.displayName);
    assert.equal(byId["@odata.context"], `${standIn.url}/v1.0/$metadata#users/$entity`);
    const byUpn = (await client.api(`/users/${encodeURIComponent(user.userPrincipalName)}?$select=jobTitle`).get()) as Record<string, unknown>;
    assert.equal(byUpn["id"], user.id);
    assert.equal(byUpn["jobTitle"], user.jobTitle);
    const missing = await rawGet(graphClientFor(standIn), `/users/${softDeleted.id}`);
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.body), "Request_ResourceNotFound");
  });

  it("lists a group's members with their @odata.type, leaving out soft-deleted ones", async () => {
    const client = graphClientFor(standIn);
    const group = [...model.groups.values()].find((candidate) => [...(model.members.get(candidate.id)?.values() ?? [])].includes("device"));
    assert.ok(group, "the generator puts devices in groups");
    const page = (await client.api(`/groups/${group.id}/members?$top=999`).get()) as Record<string, unknown>;
    const values = page["value"] as Array<Record<string, unknown>>;
    const expected = [...(model.members.get(group.id) ?? [])].filter(([id]) => model.users.get(id)?.deleted !== true);
    assert.deepEqual(values.map((value) => `${value["id"]} ${value["@odata.type"]}`).sort(), expected.map(([id, type]) => `${id} #microsoft.graph.${type}`).sort());
    const missing = await rawGet(client, "/groups/00000000-0000-0000-0000-000000000000/members");
    assert.equal(missing.status, 404);
  });

  it("answers unknown segments with 400 BadRequest and other methods with 405, in Graph's error shape", async () => {
    const client = graphClientFor(standIn);
    const unknown = await rawGet(client, "/applications");
    assert.equal(unknown.status, 400);
    const error = unknown.body["error"] as Record<string, unknown>;
    assert.equal(error["code"], "BadRequest");
    assert.equal(error["message"], "Resource not found for the segment 'applications'.");
    const inner = error["innerError"] as Record<string, unknown>;
    assert.equal(inner["request-id"], unknown.headers.get("request-id"));
    assert.equal(unknown.headers.get("content-type"), "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8");
    const nested = await rawGet(client, `/users/${[...model.users.keys()][0]}/manager`);
    assert.equal(nested.status, 400);
    await assert.rejects(client.api("/users").post({ displayName: "x" }), (thrown: { statusCode?: number }) => thrown.statusCode === 405);
  });

  it("records the resource units of each request and reports them in x-ms-resource-unit", async () => {
    const client = graphClientFor(standIn);
    const group = [...model.groups.keys()][0] as string;
    const cases: Array<[string, number]> = [
      ["/users", 2],
      ["/users?$select=displayName", 1],
      ["/users/delta", 2],
      ["/users/delta?$select=displayName", 1],
      [`/groups/${group}/members`, 3],
      [`/groups/${group}/members?$select=id`, 2],
      ["/groups/delta?$select=displayName,members", 1],
      ["/groups", 1],
      ["/users?$top=5", 1],
    ];
    for (const [url, units] of cases) {
      const before = standIn.requests.length;
      const response = await rawGet(client, url);
      assert.equal(response.status, 200, url);
      assert.equal(response.headers.get("x-ms-resource-unit"), String(units), url);
      const recorded = standIn.requests.slice(before).find((request) => request.path.startsWith("/v1.0"));
      assert.equal(recorded?.resourceUnits, units, url);
    }
    const graphCount = standIn.graphRequestCount();
    assert.equal(graphCount, standIn.requests.filter((request) => request.path.startsWith("/v1.0")).length);
  });
});
