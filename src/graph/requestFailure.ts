// Keeps the error a Graph request really failed with: the Graph SDK turns it into a GraphError that drops the cause (DNS, TLS, the credential's SyncError).
import type { Context, Middleware, MiddlewareOptions } from "@microsoft/microsoft-graph-client";

/** Passed with one request; after a failure it holds what the middleware chain threw. */
export class RequestFailure implements MiddlewareOptions {
  error: unknown;
}

/** First in the chain: records the original error in the request's RequestFailure, then lets it travel on. */
export class FailureCapturingHandler implements Middleware {
  private next: Middleware | undefined;

  async execute(context: Context): Promise<void> {
    try {
      await this.next!.execute(context);
    } catch (error) {
      const capture = context.middlewareControl?.getMiddlewareOptions(RequestFailure) as RequestFailure | undefined;
      if (capture) capture.error = error;
      throw error;
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}
