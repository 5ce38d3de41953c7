// Errors the Graph reader raises, each naming the request so an admin can tell what failed.

export class GraphRequestError extends Error {
  override name = "GraphRequestError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** The delta or skip token is no longer valid (expired after 7 days, or reset by Graph): the stream must start over. */
export class DeltaTokenExpiredError extends GraphRequestError {
  override name = "DeltaTokenExpiredError";
  constructor(
    message: string,
    status: number,
    code: string | undefined,
    readonly freshQueryUrl: string | undefined,
  ) {
    super(message, status, code);
  }
}
