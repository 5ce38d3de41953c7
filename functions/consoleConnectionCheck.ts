// GET /api/console/check (signed in, Sync.Viewer): the connection check, as GET /api/check answers it.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { connectionCheck } from "./connectionCheck";

export const consoleConnectionCheck = consoleEndpoint("view", connectionCheck);

app.http("consoleConnectionCheck", { methods: ["GET"], route: "console/check", authLevel: "anonymous", handler: consoleConnectionCheck });
