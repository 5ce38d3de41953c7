// GET /api/sync/held: the user deletions the accidental-deletion threshold holds, each with who, why and since when.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json } from "../src/service/httpAnswers";
import { parseTenantQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function getHeldDeletions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const service = syncService();
    const tenantId = resolveTenant(parseTenantQuery(request.query).tenantId, service.tenantIds);
    return json(200, await service.listHeldDeletions(tenantId, logger));
  });
}

app.http("getHeldDeletions", { methods: ["GET"], route: "sync/held", authLevel: "function", handler: getHeldDeletions });
