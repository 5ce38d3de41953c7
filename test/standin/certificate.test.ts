// The stand-in certificate: generated once with the right names and CA flag, then reused.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ensureStandInCertificate } from "../../standin/certificate";

describe("ensureStandInCertificate", () => {
  it("creates a ten-year self-signed CA certificate for localhost and 127.0.0.1, and reuses it afterwards", () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-cert-")), "nested");
    try {
      const first = ensureStandInCertificate(dir);
      const certificate = new X509Certificate(fs.readFileSync(first.certPath));
      assert.ok(certificate.ca, "CA:TRUE so Node accepts it as a trust anchor");
      assert.match(certificate.subjectAltName ?? "", /DNS:localhost/);
      assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
      assert.ok(certificate.checkIssued(certificate), "self-signed");
      const years = (Date.parse(certificate.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
      assert.ok(years > 9.9 && years < 10.1, `valid for ${years.toFixed(2)} years`);
      assert.equal((certificate.publicKey.asymmetricKeyDetails?.modulusLength), 2048);
      assert.match(fs.readFileSync(first.keyPath, "utf8"), /BEGIN PRIVATE KEY/);

      const before = fs.readFileSync(first.certPath, "utf8");
      const second = ensureStandInCertificate(dir);
      assert.deepEqual(second, first);
      assert.equal(fs.readFileSync(second.certPath, "utf8"), before, "existing files are reused");
      assert.deepEqual(fs.readdirSync(dir).sort(), ["cert.pem", "key.pem"], "no temporary or lock files are left behind");
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
