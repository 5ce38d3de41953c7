// GET /api/console/me: who is signed in, with which console roles, and where to sign out; 401 with the sign-in address otherwise.
import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { describeSignedIn } from "../src/access/consoleAccess";

export async function consoleMe(request: HttpRequest): Promise<HttpResponseInit> {
  return describeSignedIn(request);
}

app.http("consoleMe", { methods: ["GET"], route: "console/me", authLevel: "anonymous", handler: consoleMe });
