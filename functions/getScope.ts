// GET /api/scope: the scope and filters in force, with scope, exclusion and role-mapping groups resolved to their synced names.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json } from "../src/service/httpAnswers";
import { parseTenantQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function getScope(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const service = syncService();
    const tenantId = resolveTenant(parseTenantQuery(request.query).tenantId, service.tenantIds);
    return json(200, await service.readScope(tenantId, logger));
  });
}

app.http("getScope", { methods: ["GET"], route: "scope", authLevel: "function", handler: getScope });
