// GET /api/console/held (signed in, Sync.Viewer): the held deletions, as GET /api/sync/held answers them.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getHeldDeletions } from "./getHeldDeletions";

export const consoleGetHeldDeletions = consoleEndpoint("view", getHeldDeletions);

app.http("consoleGetHeldDeletions", { methods: ["GET"], route: "console/held", authLevel: "anonymous", handler: consoleGetHeldDeletions });
