// No token, secret or key reaches a log line, and every line carries the run's fields.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger, redact } from "../../src/logging/logger";

describe("logger", () => {
  test("masks bearer tokens, JWTs, client secrets and account keys", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
    const text = `Authorization: Bearer abc.def-ghi token ${jwt} client_secret=s3cr3t&x=1 AccountKey=Zm9vYmFy;`;
    const masked = redact(text, ["my-known-secret"]);
    for (const secret of ["abc.def-ghi", jwt, "s3cr3t", "Zm9vYmFy"]) assert.ok(!masked.includes(secret), secret);
    assert.equal(redact("value my-known-secret here", ["my-known-secret"]), "value [redacted] here");
  });

  test("child loggers carry run id and tenant on every line", () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger((level, message, fields) => lines.push({ level, message, ...fields })).child({ runId: "r1", tenantId: "t1" });
    logger.info("hello");
    logger.warn("careful", { page: 2 });
    assert.deepEqual(lines, [
      { level: "info", message: "hello", runId: "r1", tenantId: "t1" },
      { level: "warn", message: "careful", runId: "r1", tenantId: "t1", page: 2 },
    ]);
  });
});
