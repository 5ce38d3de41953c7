// Runs the whole suite with the stand-ins' certificate trusted: NODE_EXTRA_CA_CERTS is read only when Node starts.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { ensureStandInCertificate } from "../../standin/certificate";

const root = resolve(__dirname, "../../..");
const { certPath } = ensureStandInCertificate(resolve(root, ".standin"));
const targets = process.argv.slice(2);
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...(targets.length > 0 ? targets : [resolve(root, "dist/test")])], {
  stdio: "inherit",
  env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
});
process.exit(result.status ?? 1);
