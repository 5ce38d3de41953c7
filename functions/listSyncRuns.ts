// GET /api/sync/runs: the import log, newest first, a page at a time: trigger, requester, mode, status, duration and counts of each run.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { answer, json } from "../src/service/httpAnswers";
import { ApiError, parseRunsQuery, resolveTenant } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";
import { InvalidRunCursorError } from "../src/store/runLog";

export async function listSyncRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  return await answer(logger, async () => {
    const query = parseRunsQuery(request.query);
    const service = syncService();
    const tenantId = resolveTenant(query.tenantId, service.tenantIds);
    try {
      const page = await service.listRuns(tenantId, { limit: query.limit, cursor: query.cursor });
      const next = new URL(request.url);
      next.searchParams.delete("code");
      if (page.nextCursor) next.searchParams.set("cursor", page.nextCursor);
      return json(200, { ...page, nextUrl: page.nextCursor ? next.toString() : null });
    } catch (error) {
      if (error instanceof InvalidRunCursorError) throw new ApiError(400, "invalid_parameter", error.message);
      throw error;
    }
  });
}

app.http("listSyncRuns", { methods: ["GET"], route: "sync/runs", authLevel: "function", handler: listSyncRuns });
