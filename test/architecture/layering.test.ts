// Layering of src/: each folder imports only from folders below it, and no module imports itself back through others.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";

const srcRoot = resolve(__dirname, "../../../src");

/** Lowest first; a folder may import from its own layer and the ones before it. Folders on one line share a layer. */
const layers: string[][] = [
  ["common", "errors"],
  ["directory", "logging", "schedule"],
  ["store"],
  ["reader"],
  ["graph"],
  ["policy"],
  ["config"],
  ["identity"],
  ["sync"],
  ["compositionRoot.ts"],
  ["service"],
  ["access", "console"],
  ["check"],
  ["cli"],
];
const layerOf = new Map(layers.flatMap((folders, index) => folders.map((folder) => [folder, index] as const)));

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of a file (type-only ones too: a type cycle is still a cycle to a reader), resolved to files under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/g)].map((match) => match[1]!);
  return specifiers
    .map((specifier) => resolve(dirname(file), specifier))
    .map((path) => (existsSync(`${path}.ts`) ? `${path}.ts` : join(path, "index.ts")))
    .filter((path) => path.startsWith(srcRoot));
}

const topOf = (file: string) => relative(srcRoot, file).split(/[\\/]/)[0]!;

describe("layering of src/", () => {
  const files = sourceFiles(srcRoot);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  test("every top-level folder has a layer, and the imports are found", () => {
    assert.ok([...graph.values()].flat().length > 200, "the import parser still reads this codebase's imports");
    const unknown = [...new Set(files.map(topOf))].filter((top) => !layerOf.has(top));
    assert.deepEqual(unknown, [], "add new folders to the layer list");
  });

  test("no folder imports from a layer above it", () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (layerOf.get(topOf(target))! > layerOf.get(topOf(file))!) upward.push(`${relative(srcRoot, file)} -> ${relative(srcRoot, target)}`);
      }
    }
    assert.deepEqual(upward, []);
  });

  test("no import cycle between modules", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((entry) => relative(srcRoot, entry)).join(" -> "));
        return;
      }
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
