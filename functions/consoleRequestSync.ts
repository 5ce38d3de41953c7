// POST /api/console/sync (signed in, Sync.Admin, JSON): Sync now, full resync, Test run or Allow deletions, as POST /api/sync queues them.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { requestSync } from "./requestSync";

export const consoleRequestSync = consoleEndpoint("act", requestSync);

app.http("consoleRequestSync", { methods: ["POST"], route: "console/sync", authLevel: "anonymous", handler: consoleRequestSync });
