// Stages the deployment package azd zips: compiled code, production dependencies from the lockfile, and nothing else.
import fs from "node:fs";
import path from "node:path";

/** Files copied as they are, from the repository root; .funcignore goes along so azd and Core Tools apply the same rules. */
export const packageRootFiles = ["host.json", ".funcignore"];

/** Folders whose TypeScript sources are compiled into dist/; only the compiled .js of a current source ships. */
export const compiledSourceFolders = ["src", "functions"];

/**
 * Static files the app reads at run time (a console's HTML, CSS, images), copied from `source` to `target` in the package.
 * tsc copies no such file into dist/, so every one must be listed here; the package test fails for any that is not.
 */
export const packageAssets: readonly { source: string; target: string }[] = [
  // The admin console: its page and stylesheet, and its browser modules compiled by `tsc -p console` (src/console/consoleAssets.ts).
  { source: "console/static", target: "console/static" },
  { source: "dist/console", target: "dist/console" },
];

/** Files in dependencies that Node never loads at run time: source maps, TypeScript sources and declarations (about half the files). */
export const droppedDependencyFile = /\.(?:map|ts|mts|cts|tsbuildinfo)$/;

/** The package.json fields the Functions host and Node read; scripts and devDependencies stay behind. */
const shippedPackageFields = ["name", "version", "description", "license", "private", "type", "main", "engines", "dependencies"];

interface LockfileEntry {
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface StagePackageOptions {
  repoRoot: string;
  /** Emptied first; must not be the repository or any folder above it. */
  outDir: string;
}

export interface StagedPackage {
  /** Paths relative to outDir, with / separators, sorted. */
  files: string[];
  bytes: number;
}

export class StagePackageError extends Error {
  override name = "StagePackageError";
}

function walkFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const fullPath = path.join(directory, entry.name);
    return entry.isDirectory() ? walkFiles(fullPath) : [fullPath];
  });
}

/** The lockfile's packages that `npm ci --omit=dev` would install, as node_modules/... paths. */
export function productionDependencyPaths(repoRoot: string): { path: string; optional: boolean }[] {
  const lockfile = JSON.parse(fs.readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as { lockfileVersion: number; packages?: Record<string, LockfileEntry> };
  if (!lockfile.packages) throw new StagePackageError(`package-lock.json version ${lockfile.lockfileVersion} has no "packages"; regenerate it with npm 7 or later`);
  return Object.entries(lockfile.packages)
    .filter(([key, entry]) => key.startsWith("node_modules/") && !entry.dev && !entry.link)
    .map(([key, entry]) => ({ path: key, optional: entry.optional ?? false }));
}

/** The compiled file of every current source, so a stale .js left in dist/ by a renamed source never ships. */
export function compiledCodePaths(repoRoot: string): string[] {
  return compiledSourceFolders.flatMap((folder) =>
    walkFiles(path.join(repoRoot, folder))
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
      .map((file) => path.join("dist", path.relative(repoRoot, file)).replace(/\.ts$/, ".js")),
  );
}

export function stageDeploymentPackage(options: StagePackageOptions): StagedPackage {
  const repoRoot = path.resolve(options.repoRoot);
  const outDir = path.resolve(options.outDir);
  if (repoRoot === outDir || repoRoot.startsWith(`${outDir}${path.sep}`)) throw new StagePackageError(`refusing to empty ${outDir}: it holds the repository`);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const copyFile = (relativePath: string, target = relativePath): void => {
    fs.mkdirSync(path.dirname(path.join(outDir, target)), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, relativePath), path.join(outDir, target));
  };

  for (const file of packageRootFiles) copyFile(file);
  const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>;
  const shipped = Object.fromEntries(shippedPackageFields.filter((field) => field in packageJson).map((field) => [field, packageJson[field]]));
  fs.writeFileSync(path.join(outDir, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);

  const missing = compiledCodePaths(repoRoot).filter((file) => !fs.existsSync(path.join(repoRoot, file)));
  if (missing.length > 0) throw new StagePackageError(`compiled files are missing (run npm run build first): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
  for (const file of compiledCodePaths(repoRoot)) copyFile(file);

  for (const asset of packageAssets) {
    for (const file of walkFiles(path.join(repoRoot, asset.source))) {
      const relative = path.relative(path.join(repoRoot, asset.source), file);
      copyFile(path.relative(repoRoot, file), path.join(asset.target, relative));
    }
  }

  for (const dependency of productionDependencyPaths(repoRoot)) {
    const source = path.join(repoRoot, dependency.path);
    if (!fs.existsSync(source)) {
      if (dependency.optional) continue;
      throw new StagePackageError(`${dependency.path} is in package-lock.json but not installed; run npm ci first`);
    }
    // A package's own node_modules holds nested dependencies, which the lockfile lists (and so copies) one by one.
    fs.cpSync(source, path.join(outDir, dependency.path), {
      recursive: true,
      dereference: true,
      filter: (file) => path.relative(source, file).split(path.sep)[0] !== "node_modules" && !droppedDependencyFile.test(file),
    });
  }

  const files = walkFiles(outDir).map((file) => path.relative(outDir, file).split(path.sep).join("/")).sort();
  const bytes = files.reduce((total, file) => total + fs.statSync(path.join(outDir, file)).size, 0);
  return { files, bytes };
}

// Run by azd's prepackage hook (azure.yaml) and by `npm run package`: stages into .deploy/, the folder azure.yaml deploys.
if (require.main === module) {
  const repoRoot = path.resolve(__dirname, "../../..");
  try {
    const staged = stageDeploymentPackage({ repoRoot, outDir: path.join(repoRoot, ".deploy") });
    console.log(`Staged .deploy/: ${staged.files.length} files, ${(staged.bytes / 1024 / 1024).toFixed(1)} MB (compiled code and production dependencies only).`);
  } catch (error) {
    console.error(`Staging the deployment package failed: ${(error as Error).message}`);
    process.exit(1);
  }
}
