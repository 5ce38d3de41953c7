// GET /api/console/assets/{name}: the console's script and style files, packaged with the app (no CDN), under the page's strict CSP.
import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { consoleAssetAnswer } from "../src/console/consoleAssets";

export async function consoleAsset(request: HttpRequest): Promise<HttpResponseInit> {
  return await consoleAssetAnswer(request.params.name);
}

app.http("consoleAsset", { methods: ["GET"], route: "console/assets/{name}", authLevel: "anonymous", handler: consoleAsset });
