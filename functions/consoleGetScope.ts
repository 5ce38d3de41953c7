// GET /api/console/scope (signed in, Sync.Viewer): the scope and filters in force, as GET /api/scope answers them.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getScope } from "./getScope";

export const consoleGetScope = consoleEndpoint("view", getScope);

app.http("consoleGetScope", { methods: ["GET"], route: "console/scope", authLevel: "anonymous", handler: consoleGetScope });
