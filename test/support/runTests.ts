// Runs the suite with the stand-ins' certificate trusted: NODE_EXTRA_CA_CERTS is read only when Node starts.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureStandInCertificate } from "../../standin/certificate";

/** Only *.test.js files: given a folder, Node 20 would also run every helper module under a test/ folder. */
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const child = join(path, name);
      return statSync(child).isDirectory() ? testFiles(child) : name.endsWith(".test.js") ? [child] : [];
    });
}

const root = resolve(__dirname, "../../..");
const { certPath } = ensureStandInCertificate(resolve(root, ".standin"));
const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : [resolve(root, "dist/test")]).flatMap((target) => testFiles(resolve(target)));
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], {
  stdio: "inherit",
  env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
});
process.exit(result.status ?? 1);
