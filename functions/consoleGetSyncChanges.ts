// GET /api/console/changes (signed in, Sync.Viewer): the change feed, as GET /api/sync/changes answers it.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getSyncChanges } from "./getSyncChanges";

export const consoleGetSyncChanges = consoleEndpoint("view", getSyncChanges);

app.http("consoleGetSyncChanges", { methods: ["GET"], route: "console/changes", authLevel: "anonymous", handler: consoleGetSyncChanges });
