// GET /api/console/status (signed in, Sync.Viewer): what GET /api/sync/status answers, for the console.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getSyncStatus } from "./getSyncStatus";

export const consoleGetSyncStatus = consoleEndpoint("view", getSyncStatus);

app.http("consoleGetSyncStatus", { methods: ["GET"], route: "console/status", authLevel: "anonymous", handler: consoleGetSyncStatus });
