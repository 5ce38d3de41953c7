// GET /api/sync/changes: the change feed, per entity and run, since a time or a run, a page at a time.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { InvalidCursorError } from "../src/service/changeFeed";
import { answer, json } from "../src/service/httpAnswers";
import { ApiError, parseChangesQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";
import { UnknownRunError } from "../src/service/syncService";

export async function getSyncChanges(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const query = parseChangesQuery(request.query);
    const service = syncService();
    const tenantId = resolveTenant(query.tenantId, service.tenantIds);
    try {
      const page = await service.readChanges({ ...query, tenantId });
      const next = new URL(request.url);
      next.searchParams.delete("code");
      if (page.nextCursor) next.searchParams.set("cursor", page.nextCursor);
      return json(200, { tenantId, events: page.events, nextCursor: page.nextCursor ?? null, nextUrl: page.nextCursor ? next.toString() : null });
    } catch (error) {
      if (error instanceof UnknownRunError) throw new ApiError(404, "run_not_found", `sinceRunId: ${error.message}`);
      if (error instanceof InvalidCursorError) throw new ApiError(400, "invalid_parameter", error.message);
      throw error;
    }
  });
}

app.http("getSyncChanges", { methods: ["GET"], route: "sync/changes", authLevel: "function", handler: getSyncChanges });
