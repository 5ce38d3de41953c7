// GET /api/sync/runs/{runId}: one run's record, request and lease, so a caller can follow the run it queued.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, errorAnswer, json } from "../src/service/httpAnswers";
import { parseRunId, parseTenantQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function getSyncRun(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const runId = parseRunId(request.params.runId);
    const query = parseTenantQuery(request.query);
    const service = syncService();
    const tenantId = query.tenantId === undefined ? undefined : resolveTenant(query.tenantId, service.tenantIds);
    const run = await service.readRun(runId, tenantId);
    return run ? json(200, run) : errorAnswer(404, "run_not_found", `No run ${runId} in the run log${tenantId ? ` of tenant ${tenantId}` : ""}; it may be older than RUN_RETENTION_DAYS`);
  });
}

app.http("getSyncRun", { methods: ["GET"], route: "sync/runs/{runId}", authLevel: "function", handler: getSyncRun });
