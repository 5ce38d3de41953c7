// GET /api/console: the admin console's page; a visitor who is not signed in is sent to the Microsoft Entra sign-in first.
import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { principalHeaderTrusted, signedInPrincipal, signInUrl } from "../src/access/consoleAccess";
import { consolePageAnswer } from "../src/console/consoleAssets";

export async function consolePage(request: HttpRequest): Promise<HttpResponseInit> {
  if (principalHeaderTrusted() && !signedInPrincipal(request)) return { status: 302, headers: { location: signInUrl, "cache-control": "no-store" } };
  return await consolePageAnswer();
}

app.http("consolePage", { methods: ["GET"], route: "console", authLevel: "anonymous", handler: consolePage });
