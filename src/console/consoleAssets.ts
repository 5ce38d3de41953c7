// Serves the admin console's page and assets from the deployed package: a fixed list of files, each with its type and a strict CSP.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { HttpAnswer } from "../service/httpAnswers";

/** The package root: dist/src/console is three folders below it, in the repository and in the deployed package alike. */
const packageRoot = path.resolve(__dirname, "../../..");

/** Every asset the page loads; nothing else under the route is served, so no path from the URL reaches the file system. */
const assets: Record<string, { file: string; type: string }> = {
  "console.css": { file: "console/static/console.css", type: "text/css; charset=utf-8" },
  "app.js": { file: "dist/console/app.js", type: "text/javascript; charset=utf-8" },
  "api.js": { file: "dist/console/api.js", type: "text/javascript; charset=utf-8" },
  "views.js": { file: "dist/console/views.js", type: "text/javascript; charset=utf-8" },
  "plan.js": { file: "dist/console/plan.js", type: "text/javascript; charset=utf-8" },
  "notifications.js": { file: "dist/console/notifications.js", type: "text/javascript; charset=utf-8" },
  "dom.js": { file: "dist/console/dom.js", type: "text/javascript; charset=utf-8" },
  "format.js": { file: "dist/console/format.js", type: "text/javascript; charset=utf-8" },
};

/** Scripts and styles from this origin only, no inline code, no framing, calls back to this origin only. */
export const consoleContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const securityHeaders = {
  "content-security-policy": consoleContentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

export const consoleAssetNames: readonly string[] = Object.keys(assets);

const cache = new Map<string, Buffer>();

async function load(file: string): Promise<Buffer> {
  let body = cache.get(file);
  if (!body) {
    body = await readFile(path.join(packageRoot, file));
    cache.set(file, body);
  }
  return body;
}

/** The console page; it holds no data, which the page reads from the console API once signed in. */
export async function consolePageAnswer(): Promise<HttpAnswer> {
  return { status: 200, body: await load("console/static/index.html"), headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", ...securityHeaders } };
}

/** One named asset, or 404 for any other name. */
export async function consoleAssetAnswer(name: string | undefined): Promise<HttpAnswer> {
  const asset = name === undefined ? undefined : Object.hasOwn(assets, name) ? assets[name] : undefined;
  if (!asset) return { status: 404, jsonBody: { error: { code: "not_found", message: `No console asset ${JSON.stringify(name ?? "")}` } }, headers: { "cache-control": "no-store", ...securityHeaders } };
  // Revalidated each time, so a deployment's new assets apply on the next load.
  return { status: 200, body: await load(asset.file), headers: { "content-type": asset.type, "cache-control": "no-cache", ...securityHeaders } };
}
