// GET /api/check (function key): runs the connection check and answers one entry per check as JSON, 503 when any check failed.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { runConnectionCheck } from "../src/check/connectionCheck";
import { answer, json } from "../src/service/httpAnswers";
import { invocationLogger } from "../src/service/invocationLogger";
import { connectionCheckOptions } from "../src/service/serviceProvider";

export async function connectionCheck(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  // 503 lets a probe or a deployment gate see a broken setup without reading the body.
  return await answer(logger, async () => {
    const report = await runConnectionCheck(process.env, { logger, ...connectionCheckOptions() });
    return json(report.ok ? 200 : 503, report);
  });
}

app.http("connectionCheck", { methods: ["GET"], route: "check", authLevel: "function", handler: connectionCheck });
