// GET /api/sync/status: per tenant, the last successful sync, the last run, the active run, the next scheduled run and warnings.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json } from "../src/service/httpAnswers";
import { parseTenantQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function getSyncStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const query = parseTenantQuery(request.query);
    const service = syncService();
    const tenantId = query.tenantId === undefined ? undefined : resolveTenant(query.tenantId, service.tenantIds);
    return json(200, await service.readStatus(tenantId));
  });
}

app.http("getSyncStatus", { methods: ["GET"], route: "sync/status", authLevel: "function", handler: getSyncStatus });
