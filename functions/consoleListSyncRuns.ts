// GET /api/console/runs (signed in, Sync.Viewer): the import log, as GET /api/sync/runs answers it.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { listSyncRuns } from "./listSyncRuns";

export const consoleListSyncRuns = consoleEndpoint("view", listSyncRuns);

app.http("consoleListSyncRuns", { methods: ["GET"], route: "console/runs", authLevel: "anonymous", handler: consoleListSyncRuns });
