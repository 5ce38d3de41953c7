// Restarts the current command trusting the stand-in's certificate, since Node reads NODE_EXTRA_CA_CERTS only at start.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { ensureStandInCertificate } from "./certificate";

export const standInCertDir = resolve(__dirname, "../../.standin");

/** Returns the exit code of the relaunched command, or undefined when this process already trusts the certificate. */
export function relaunchTrustingStandIn(): number | undefined {
  const { certPath } = ensureStandInCertificate(standInCertDir);
  if (process.env.NODE_EXTRA_CA_CERTS === certPath) return undefined;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath } });
  return child.status ?? 1;
}
