// GET /api/console/runs/{runId} (signed in, Sync.Viewer): one run's record, as GET /api/sync/runs/{runId} answers it.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getSyncRun } from "./getSyncRun";

export const consoleGetSyncRun = consoleEndpoint("view", getSyncRun);

app.http("consoleGetSyncRun", { methods: ["GET"], route: "console/runs/{runId}", authLevel: "anonymous", handler: consoleGetSyncRun });
