// GET /api/scope/suggestions: synced accounts that look like system or service accounts, with globs an admin may add to USER_EXCLUDE_PATTERNS.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json } from "../src/service/httpAnswers";
import { parseTenantQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function getExclusionSuggestions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const service = syncService();
    const tenantId = resolveTenant(parseTenantQuery(request.query).tenantId, service.tenantIds);
    return json(200, await service.suggestExclusions(tenantId, logger));
  });
}

app.http("getExclusionSuggestions", { methods: ["GET"], route: "scope/suggestions", authLevel: "function", handler: getExclusionSuggestions });
