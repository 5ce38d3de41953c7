// Finds (restoring if needed) the pinned Bicep CLI and runs it over a copy of infra/ where extension modules it cannot restore offline are stubbed.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { listBicepFiles, meaningfulChildren, parseBicep } from "./bicepTree";

export const repoRoot = path.resolve(__dirname, "../../..");
export const restoreProject = path.join(repoRoot, "tools/bicep/bicep-cli.csproj");
export const restoredPackagesDir = path.join(repoRoot, ".tools/nuget");
const bicepPackageId = "Azure.Bicep.CommandLine.linux-x64";

/** One line of the compiler's default diagnostics format: `file(line,col) : Level code: message`. */
export interface BicepDiagnostic {
  file: string;
  line: number;
  column: number;
  level: "Error" | "Warning" | "Info";
  code: string;
  message: string;
}

export type BicepCliLookup = { found: true; path: string; version: string } | { found: false; version: string; reason: string };

/** The pinned compiler version: the one place it is written is the restore project. */
export function pinnedBicepVersion(): string {
  const project = fs.readFileSync(restoreProject, "utf8");
  const pin = new RegExp(`<PackageDownload Include="${bicepPackageId.replace(/\./g, "\\.")}" Version="\\[([0-9.]+)\\]"`).exec(project);
  if (!pin?.[1]) throw new Error(`${path.relative(repoRoot, restoreProject)} pins no exact version of ${bicepPackageId} (Version="[x.y.z]")`);
  return pin[1];
}

function binaryPath(version: string): string {
  return path.join(restoredPackagesDir, bicepPackageId.toLowerCase(), version, "tools", "bicep");
}

/** The same command as `npm run bicep:restore`; returns its output for the error message when it fails. */
export function restoreBicepCli(): { ok: boolean; output: string } {
  const result = spawnSync("dotnet", ["restore", restoreProject, "--packages", restoredPackagesDir], {
    encoding: "utf8",
    env: { ...process.env, DOTNET_NOLOGO: "1", DOTNET_CLI_TELEMETRY_OPTOUT: "1" },
    timeout: 300_000,
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}`.trim();
  return { ok: result.status === 0, output };
}

/** The compiler binary, restored first when it is missing and dotnet is there to restore it. */
export function findBicepCli(): BicepCliLookup {
  const version = pinnedBicepVersion();
  const binary = binaryPath(version);
  if (!fs.existsSync(binary)) {
    const restore = restoreBicepCli();
    if (!fs.existsSync(binary)) {
      return { found: false, version, reason: `Bicep CLI ${version} is not restored at ${path.relative(repoRoot, binary)} and restoring it failed; run \`npm run bicep:restore\` (needs the .NET SDK and NuGet). Restore said:\n${restore.output}` };
    }
  }
  return { found: true, path: binary, version };
}

export function runBicep(cli: string, args: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync(cli, args, { cwd, encoding: "utf8", timeout: 180_000, env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1" } });
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` };
}

const diagnosticLine = /^(.+?)\((\d+),(\d+)\) : (Error|Warning|Info) ([A-Za-z0-9-]+): (.*?)(?: \[https:\/\/aka\.ms\/[^\]]+\])?$/;

/** Parses the compiler's output; the same diagnostic reported through several files is listed once. */
export function parseDiagnostics(output: string): BicepDiagnostic[] {
  const seen = new Set<string>();
  const diagnostics: BicepDiagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = diagnosticLine.exec(line.trim());
    if (!match) continue;
    const [, file, row, column, level, code, message] = match;
    if (seen.has(line.trim())) continue;
    seen.add(line.trim());
    diagnostics.push({ file: file!, line: Number(row), column: Number(column), level: level as BicepDiagnostic["level"], code: code!, message: message! });
  }
  return diagnostics;
}

// An `extension` whose types come from a container registry; these machines reach none, so the compiler cannot load it.
const registryExtensionStatement = /^extension\s+[A-Za-z_]\w*/m;

export function usesRegistryExtension(source: string): boolean {
  return registryExtensionStatement.test(source);
}

// Values of the right type for a stubbed output; only the caller's type checking depends on them.
const stubOutputValues: Record<string, string> = { string: "''", int: "0", bool: "false", array: "[]", object: "{}" };

/**
 * The same module interface (types, parameters with their decorators, outputs with their types) without the extension's resources,
 * so the files that call it still compile against the real parameter and output names and types.
 */
export async function stubModuleInterface(source: string, relativePath: string): Promise<string> {
  const root = await parseBicep(source);
  const lines = [`// Compile-time stand-in for ${relativePath}: its extension cannot be restored offline, so only its interface is kept.`];
  let pendingDecorators: string[] = [];
  for (const declaration of root.namedChildren) {
    if (declaration.type === "decorators") {
      pendingDecorators.push(declaration.text);
      continue;
    }
    if (declaration.type === "parameter_declaration" || declaration.type === "type_declaration") {
      lines.push(...pendingDecorators, declaration.text);
    } else if (declaration.type === "output_declaration") {
      const [name, type] = meaningfulChildren(declaration);
      const value = type ? stubOutputValues[type.text] : undefined;
      if (!name || !value) throw new Error(`${relativePath}:${declaration.startPosition.row + 1}: the stub knows no value for output type ${type?.text}; add it to stubOutputValues`);
      lines.push(...pendingDecorators, `output ${name.text} ${type!.text} = ${value}`);
    }
    if (declaration.type !== "comment") pendingDecorators = [];
  }
  return `${lines.join("\n")}\n`;
}

export interface CompilableCopy {
  directory: string;
  /** Files replaced by their interface stub, relative to the copy, with / separators. */
  stubbed: string[];
  remove(): void;
}

/** Copies infra/ to a temporary folder and stubs every module that needs a registry extension. */
export async function compilableInfraCopy(infraDir: string): Promise<CompilableCopy> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "entra-sync-bicep-"));
  const copy = path.join(directory, "infra");
  fs.cpSync(infraDir, copy, { recursive: true });
  const stubbed: string[] = [];
  for (const file of listBicepFiles(copy)) {
    const source = fs.readFileSync(file, "utf8");
    if (!usesRegistryExtension(source)) continue;
    const relativePath = path.relative(copy, file).split(path.sep).join("/");
    fs.writeFileSync(file, await stubModuleInterface(source, `infra/${relativePath}`));
    stubbed.push(relativePath);
  }
  return { directory: copy, stubbed, remove: () => fs.rmSync(directory, { recursive: true, force: true }) };
}
