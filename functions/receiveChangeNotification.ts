// POST /api/notifications (anonymous; Graph cannot send a function key): echoes validationToken, or verifies notifications and answers 202; never syncs inline.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { changeNotificationRoute } from "../src/config/settings";
import { maxNotificationBodyBytes } from "../src/service/changeNotifications";
import { answer } from "../src/service/httpAnswers";
import { readBodyBytes } from "../src/service/httpInput";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function receiveChangeNotification(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const logger = invocationLogger(context);
  let text: string | undefined;
  const result = await answer(logger, async () => {
    const validationToken = request.query.get("validationToken");
    const body = validationToken === null ? await readBodyBytes(request, maxNotificationBodyBytes) : new Uint8Array();
    const outcome = await syncService().receiveChangeNotifications({ validationToken, contentType: request.headers.get("content-type"), body }, logger);
    if (outcome.status === 200) text = outcome.text;
    return { status: outcome.status, jsonBody: undefined };
  });
  // Graph expects the token back as text/plain (change-notifications-delivery-webhooks); nosniff keeps a browser from reading it as anything else.
  if (text !== undefined) return { status: 200, body: text, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff", "cache-control": "no-store" } };
  return result.status === 202 ? { status: 202 } : result;
}

app.http("receiveChangeNotification", { methods: ["POST"], route: changeNotificationRoute, authLevel: "anonymous", handler: receiveChangeNotification });
