// The stand-in's change-notification subscriptions, driven by the real Graph SDK: handshake, permissions, expiry, renewal, notifications, lifecycle.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { GraphError, type Client } from "@microsoft/microsoft-graph-client";
import { ensureStandInCertificate } from "../../standin/certificate";
import { DirectoryModel } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { certDir, graphClientFor, startStandIn } from "./standInTestSupport";

interface Received {
  url: string;
  contentType: string;
  body: string;
}

/** A webhook receiver: echoes validation tokens (or not, per `mode`), records everything, answers notifications with `status`. */
class Receiver {
  readonly received: Received[] = [];
  mode: "echo" | "wrongEcho" = "echo";
  status = 202;
  url = "";
  private server: https.Server | undefined;

  async start(): Promise<void> {
    const { certPath, keyPath } = ensureStandInCertificate(certDir);
    this.server = https.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const url = request.url ?? "/";
        this.received.push({ url, contentType: String(request.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") });
        const token = new URL(url, "https://localhost").searchParams.get("validationToken");
        if (token !== null) {
          response.writeHead(200, { "content-type": "text/plain" }).end(this.mode === "echo" ? token : "something else");
          return;
        }
        response.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `https://localhost:${(this.server.address() as AddressInfo).port}/hook`;
  }

  notifications(): Array<Record<string, unknown>> {
    return this.received.filter((item) => !item.url.includes("validationToken")).flatMap((item) => (JSON.parse(item.body) as { value: Array<Record<string, unknown>> }).value);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

const groupReader = { clientId: "33333333-3333-3333-3333-333333333333", clientSecret: "group-reader" };
let standIn: GraphStandIn;
let receiver: Receiver;
let client: Client;

before(async () => {
  standIn = await startStandIn({ model: DirectoryModel.generate({ seed: 5, users: 10, groups: 3 }), deliveryRetryDelaysMs: [50] });
  standIn.registerClient({ ...groupReader, roles: ["User.Read.All", "Group.Read.All"] });
  receiver = new Receiver();
  await receiver.start();
  client = graphClientFor(standIn);
});
beforeEach(() => {
  standIn.subscriptions.removeAll();
  receiver.received.length = 0;
  receiver.mode = "echo";
  receiver.status = 202;
});
after(async () => {
  await receiver?.stop();
  await standIn?.stop();
});

const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

function subscriptionBody(resource: string, extra: Record<string, unknown> = {}) {
  return { changeType: "updated,deleted", notificationUrl: receiver.url, lifecycleNotificationUrl: receiver.url, resource, expirationDateTime: inMinutes(60), clientState: "s3cret", ...extra };
}

async function graphFailure(call: Promise<unknown>): Promise<GraphError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof GraphError, `expected a GraphError, got ${String(error)}`);
    return error;
  }
  assert.fail("the request succeeded");
}

describe("stand-in subscriptions", () => {
  test("creation validates the URL with a validationToken handshake and answers the documented subscription", async () => {
    const created = (await client.api("/subscriptions").post(subscriptionBody("users"))) as Record<string, unknown>;
    assert.equal(created["resource"], "users");
    assert.equal(created["changeType"], "updated,deleted");
    assert.equal(created["clientState"], "s3cret");
    assert.equal(created["latestSupportedTlsVersion"], "v1_2");
    assert.match(String(created["@odata.context"]), /\$metadata#subscriptions\/\$entity$/);
    const validation = receiver.received.find((item) => item.url.includes("validationToken="));
    assert.ok(validation, "Graph posted a validation request");
    assert.match(validation.contentType, /^text\/plain/);
    receiver.mode = "wrongEcho";
    const failed = await graphFailure(client.api("/subscriptions").post(subscriptionBody("users")));
    assert.equal(failed.statusCode, 400);
    assert.equal(failed.code, "ValidationError");
    assert.equal(standIn.subscriptions.list().length, 1, "a failed validation creates nothing");
  });

  test("groups need Group.Read.All: GroupMember.Read.All is refused with 403", async () => {
    const refused = await graphFailure(client.api("/subscriptions").post(subscriptionBody("groups")));
    assert.equal(refused.statusCode, 403);
    const created = (await graphClientFor(standIn, groupReader).api("/subscriptions").post(subscriptionBody("groups"))) as Record<string, unknown>;
    assert.equal(created["resource"], "groups");
  });

  test("expiry: at most 41,760 minutes ahead, renewed with PATCH, gone once past, deleted with DELETE", async () => {
    const tooLong = await graphFailure(client.api("/subscriptions").post(subscriptionBody("users", { expirationDateTime: inMinutes(41_761) })));
    assert.equal(tooLong.statusCode, 400);
    const created = (await client.api("/subscriptions").post(subscriptionBody("users", { expirationDateTime: inMinutes(41_700) }))) as { id: string };
    const validations = () => receiver.received.filter((item) => item.url.includes("validationToken=")).length;
    const before = validations();
    const renewed = (await client.api(`/subscriptions/${created.id}`).patch({ expirationDateTime: inMinutes(41_750) })) as { expirationDateTime: string };
    assert.ok(Date.parse(renewed.expirationDateTime) > Date.now() + 41_740 * 60_000);
    assert.equal(validations(), before + 1, "renewal validates the URL again");
    standIn.subscriptions.setExpiration(created.id, new Date(Date.now() - 1));
    assert.equal((await graphFailure(client.api(`/subscriptions/${created.id}`).get())).statusCode, 404, "an expired subscription is gone");
    const second = (await client.api("/subscriptions").post(subscriptionBody("users"))) as { id: string };
    await client.api(`/subscriptions/${second.id}`).delete();
    assert.equal((await graphFailure(client.api(`/subscriptions/${second.id}`).patch({ expirationDateTime: inMinutes(90) }))).statusCode, 404);
  });

  test("changes are posted as documented: updated for create, change and soft delete, deleted for permanent deletion; membership to groups only", async () => {
    const users = (await client.api("/subscriptions").post(subscriptionBody("users"))) as { id: string };
    const model = standIn.model;
    const [first, second] = [...model.users.values()];
    model.updateUser(first!.id, { jobTitle: "Notified" });
    model.hardDeleteUser(second!.id);
    const group = [...model.groups.values()][0]!;
    model.addMember(group.id, first!.id);
    await standIn.subscriptions.settle();
    const items = receiver.notifications();
    assert.deepEqual(items.map((item) => [item["changeType"], item["resource"]]), [["updated", `Users/${first!.id}`], ["deleted", `Users/${second!.id}`]]);
    for (const item of items) {
      assert.equal(item["subscriptionId"], users.id);
      assert.equal(item["clientState"], "s3cret");
      assert.equal(item["tenantId"], standIn.tenantId);
      assert.ok(Date.parse(String(item["subscriptionExpirationDateTime"])) > Date.now());
      assert.equal((item["resourceData"] as Record<string, unknown>)["@odata.type"], "#Microsoft.Graph.User");
    }
  });

  test("a refused delivery is retried; lifecycle notifications carry lifecycleEvent, and subscriptionRemoved removes the subscription", async () => {
    const created = (await client.api("/subscriptions").post(subscriptionBody("users"))) as { id: string };
    receiver.status = 500;
    standIn.model.updateUser([...standIn.model.users.values()][0]!.id, { department: "Retry" });
    await standIn.subscriptions.settle();
    assert.equal(receiver.notifications().length, 2, "delivered once, refused, delivered again");
    receiver.status = 202;
    receiver.received.length = 0;
    assert.equal(await standIn.subscriptions.sendLifecycle(created.id, "subscriptionRemoved"), true);
    const [event] = receiver.notifications();
    assert.equal(event?.["lifecycleEvent"], "subscriptionRemoved");
    assert.equal(event?.["changeType"], undefined);
    assert.equal(event?.["clientState"], "s3cret");
    assert.deepEqual(standIn.subscriptions.list(), []);
  });
});
