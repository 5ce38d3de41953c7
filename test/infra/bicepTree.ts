// Parses Bicep with tree-sitter-bicep's WASM grammar and reads the few shapes the infra checks look at.
import fs from "node:fs";
import path from "node:path";
import { Language, Parser, type Node } from "web-tree-sitter";

/** A place where the grammar could not parse the text, 1-based like an editor shows it. */
export interface BicepSyntaxError {
  line: number;
  column: number;
  kind: "ERROR" | "MISSING";
  near: string;
}

/** A `resource` declaration: its symbolic name, type string and body object. */
export interface ResourceDeclaration {
  symbol: string;
  type: string;
  existing: boolean;
  conditional: boolean;
  body: Node | undefined;
  line: number;
}

let parserLoading: Promise<Parser> | undefined;

/** Loads the grammar once; web-tree-sitter finds its own runtime WASM next to its module. */
export function loadBicepParser(): Promise<Parser> {
  parserLoading ??= (async () => {
    await Parser.init();
    const grammar = await Language.load(require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm"));
    const parser = new Parser();
    parser.setLanguage(grammar);
    return parser;
  })();
  return parserLoading;
}

// tree-sitter-bicep 1.1.0 predates Bicep's `extension` keyword; its older spelling of the same statement is `provider '<alias>'`.
const plainExtensionStatement = /^extension[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?=\r?$)/gm;

/** Rewrites only a plain `extension <alias>` line into the grammar's older form; line numbers stay the same. */
export function toGrammarDialect(source: string): string {
  return source.replace(plainExtensionStatement, "provider '$1'");
}

export async function parseBicep(source: string): Promise<Node> {
  const parser = await loadBicepParser();
  const tree = parser.parse(toGrammarDialect(source));
  if (!tree) throw new Error("tree-sitter returned no tree for the Bicep source");
  return tree.rootNode;
}

/** Every ERROR or MISSING node, outermost first; nothing inside an ERROR node is listed twice. */
export async function findSyntaxErrors(source: string): Promise<BicepSyntaxError[]> {
  const root = await parseBicep(source);
  const errors: BicepSyntaxError[] = [];
  const visit = (node: Node): void => {
    if (node.isError || node.isMissing) {
      errors.push({
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        kind: node.isMissing ? "MISSING" : "ERROR",
        near: node.isMissing ? `expected ${node.type}` : node.text.split("\n")[0]!.slice(0, 60),
      });
      return;
    }
    for (const child of node.children) visit(child);
  };
  visit(root);
  // A root that reports hasError with no node found would otherwise pass silently.
  if (root.hasError && errors.length === 0) errors.push({ line: 1, column: 1, kind: "ERROR", near: "(tree reports an error)" });
  return errors;
}

/** Named children without comments and decorators: the parts that carry meaning. */
export function meaningfulChildren(node: Node): Node[] {
  return node.namedChildren.filter((child) => child.type !== "comment" && child.type !== "decorators");
}

/** The text of a string literal, or undefined when the node is not a string without interpolation. */
export function stringLiteral(node: Node | undefined): string | undefined {
  if (!node || node.type !== "string") return undefined;
  if (node.namedChildren.some((child) => child.type !== "string_content")) return undefined;
  return node.namedChildren.map((child) => child.text).join("");
}

/** The key of an object_property, whether written `key:` or `'key':`. */
export function propertyKey(property: Node): string | undefined {
  const key = meaningfulChildren(property)[0];
  if (!key) return undefined;
  return key.type === "identifier" ? key.text : stringLiteral(key);
}

/** The direct properties of an object literal, by key. */
export function objectProperties(object: Node | undefined): Map<string, Node> {
  const properties = new Map<string, Node>();
  if (!object || object.type !== "object") return properties;
  for (const property of object.namedChildren) {
    if (property.type !== "object_property") continue;
    const key = propertyKey(property);
    const parts = meaningfulChildren(property);
    const value = parts[parts.length - 1];
    if (key !== undefined && value && parts.length >= 2) properties.set(key, value);
  }
  return properties;
}

/** Follows a path of property keys through nested object literals. */
export function propertyAt(object: Node | undefined, ...keys: string[]): Node | undefined {
  let current = object;
  for (const key of keys) current = objectProperties(current).get(key);
  return current;
}

export function resourceDeclarations(root: Node): ResourceDeclaration[] {
  return root.descendantsOfType("resource_declaration").flatMap((resource) => {
    if (!resource) return [];
    const parts = meaningfulChildren(resource);
    const symbol = parts[0]?.text ?? "";
    const type = stringLiteral(parts[1]) ?? "";
    const existing = resource.children.some((child) => child?.type === "existing");
    const bodyNode = parts[parts.length - 1];
    const conditional = bodyNode?.type === "if_statement";
    const body = conditional ? bodyNode!.namedChildren.find((child) => child.type === "object") : bodyNode?.type === "object" ? bodyNode : undefined;
    return [{ symbol, type, existing, conditional, body, line: resource.startPosition.row + 1 }];
  });
}

/** The value expression of a top-level `var`. */
export function variableValue(root: Node, name: string): Node | undefined {
  for (const declaration of root.namedChildren) {
    if (declaration.type !== "variable_declaration") continue;
    const parts = meaningfulChildren(declaration);
    if (parts[0]?.text === name) return parts[parts.length - 1];
  }
  return undefined;
}

/** Top-level `param` declarations and whether each has a default value. */
export function parameterDeclarations(root: Node): { name: string; hasDefault: boolean }[] {
  return root.namedChildren
    .filter((declaration) => declaration.type === "parameter_declaration")
    .map((declaration) => {
      const parts = meaningfulChildren(declaration);
      return { name: parts[0]?.text ?? "", hasDefault: parts.length >= 3 };
    });
}

/** Every .bicep file under a folder, at any depth. */
export function listBicepFiles(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const fullPath = path.join(directory, entry.name);
    if (entry.isDirectory()) return listBicepFiles(fullPath);
    return entry.name.endsWith(".bicep") ? [fullPath] : [];
  });
}
