// POST /api/sync: validates a run request and queues it (or names the run already active), answering 202 at once.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json, runStatusUrl } from "../src/service/httpAnswers";
import { parseSyncRequestBody, readJsonBody, requesterOf, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function requestSync(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const body = parseSyncRequestBody(await readJsonBody(request));
    const service = syncService();
    const tenantId = resolveTenant(body.tenantId, service.tenantIds);
    const outcome = await service.requestRun({ tenantId, mode: body.mode, dryRun: body.dryRun, allowDeletions: body.allowDeletions, trigger: "manual", requestedBy: requesterOf(request.headers, request.url) }, logger);
    const statusUrl = runStatusUrl(request.url, outcome.runId);
    const common = { runId: outcome.runId, tenantId: outcome.tenantId, status: outcome.state, statusUrl, alreadyRunning: outcome.alreadyRunning };
    const extra = outcome.alreadyRunning
      ? { message: `Run ${outcome.runId} is already ${outcome.state} for this tenant, so no new run was queued; request again once it has ended.`, activeRun: { mode: outcome.mode, dryRun: outcome.dryRun } }
      : {};
    return json(202, { ...common, ...extra }, { location: statusUrl });
  });
}

app.http("requestSync", { methods: ["POST"], route: "sync", authLevel: "function", handler: requestSync });
