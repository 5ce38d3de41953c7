// GET /api/console/scope/suggestions (signed in, Sync.Viewer): exclusion suggestions, as GET /api/scope/suggestions answers them.
import { app } from "@azure/functions";
import { consoleEndpoint } from "../src/access/consoleAccess";
import { getExclusionSuggestions } from "./getExclusionSuggestions";

export const consoleGetExclusionSuggestions = consoleEndpoint("view", getExclusionSuggestions);

app.http("consoleGetExclusionSuggestions", { methods: ["GET"], route: "console/scope/suggestions", authLevel: "anonymous", handler: consoleGetExclusionSuggestions });
