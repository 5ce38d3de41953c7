// Creates (once) the self-signed certificate the Graph stand-in serves, so real SDK clients can trust it via NODE_EXTRA_CA_CERTS.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Ten years, so a checked-out machine never sees the stand-in certificate expire. */
const certificateValidityDays = 3650;
/** How long a second process waits for another one that is generating the same certificate. */
const lockWaitLimitMs = 30_000;
/** A lock older than this was left by a process that died mid-generation. */
const staleLockMs = 60_000;

export interface StandInCertificate {
  certPath: string;
  keyPath: string;
}

/** Returns cert.pem and key.pem in dir, generating them with the openssl CLI if either is missing. */
export function ensureStandInCertificate(dir: string): StandInCertificate {
  const absoluteDir = path.resolve(dir);
  fs.mkdirSync(absoluteDir, { recursive: true });
  const certPath = path.join(absoluteDir, "cert.pem");
  const keyPath = path.join(absoluteDir, "key.pem");
  if (bothExist(certPath, keyPath)) return { certPath, keyPath };

  // node --test runs test files in parallel processes: only one may generate, the others wait.
  const lockPath = path.join(absoluteDir, ".generating.lock");
  const deadline = Date.now() + lockWaitLimitMs;
  for (;;) {
    if (bothExist(certPath, keyPath)) return { certPath, keyPath };
    if (tryTakeLock(lockPath)) break;
    if (Date.now() > deadline) {
      throw new Error(`ensureStandInCertificate: timed out waiting for ${lockPath}; delete it if no other process is generating`);
    }
    sleepSync(50);
  }
  try {
    if (!bothExist(certPath, keyPath)) generate(absoluteDir, certPath, keyPath);
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
  return { certPath, keyPath };
}

function generate(dir: string, certPath: string, keyPath: string): void {
  const suffix = `${process.pid}-${Date.now()}`;
  const tmpCert = path.join(dir, `cert.${suffix}.tmp`);
  const tmpKey = path.join(dir, `key.${suffix}.tmp`);
  try {
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-keyout", tmpKey, "-out", tmpCert,
        "-days", String(certificateValidityDays),
        "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        // CA:TRUE lets Node accept this self-signed certificate as a trust anchor from NODE_EXTRA_CA_CERTS.
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    fs.chmodSync(tmpKey, 0o600);
    // Key first, then certificate: a reader that sees cert.pem can rely on key.pem being there.
    fs.renameSync(tmpKey, keyPath);
    fs.renameSync(tmpCert, certPath);
  } catch (error) {
    fs.rmSync(tmpCert, { force: true });
    fs.rmSync(tmpKey, { force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ensureStandInCertificate: openssl failed in ${dir}${stderr ? `: ${stderr}` : ""}`, { cause: error });
  }
}

function bothExist(certPath: string, keyPath: string): boolean {
  return fs.existsSync(certPath) && fs.existsSync(keyPath);
}

function tryTakeLock(lockPath: string): boolean {
  try {
    fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    try {
      if (Date.now() - fs.statSync(lockPath).mtimeMs > staleLockMs) fs.rmSync(lockPath, { force: true });
    } catch {
      // The other process removed it between our calls; the next loop turn retries.
    }
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
