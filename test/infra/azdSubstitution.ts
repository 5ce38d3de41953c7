// Reproduces how azd (1.23.4 and later) turns infra/main.parameters.json and the azd environment into the parameters ARM receives.

/** Thrown where envsubst itself would fail ("bad substitution"), or for a form this reproduction does not model. */
export class SubstitutionError extends Error {
  override name = "SubstitutionError";
}

/** The errors azd stops `azd provision` with, before anything is deployed. */
export class AzdParameterError extends Error {
  override name = "AzdParameterError";
}

// The forms azd's templates use; envsubst's other operators (${#V}, ${V/a/b}, ${V:?x}, ...) would need modelling before use.
const defaultOperators = ["=", ":=", ":-", "-"];

interface Substitution {
  text: string;
  /** Whether any variable looked up was not set: azd then leaves an empty result out instead of passing "". */
  usedUnsetVariable: boolean;
}

/**
 * Substitutes like github.com/drone/envsubst, which azd calls: only `${...}` is replaced, values are inserted as raw text and
 * never rescanned, an unset variable is empty, `${V=default}` takes the default when the value is empty, and in the template's
 * own text `$$` becomes `$` and a backslash before `\` or `/` is dropped.
 */
export function substituteLikeAzd(template: string, lookup: (name: string) => string | undefined): Substitution {
  let text = "";
  let usedUnsetVariable = false;
  const variable = (name: string): string => {
    const value = lookup(name);
    if (value === undefined) usedUnsetVariable = true;
    return value ?? "";
  };
  let position = 0;
  while (position < template.length) {
    const character = template[position]!;
    const next = template[position + 1];
    if (character === "$" && next === "$") {
      text += "$";
      position += 2;
    } else if (character === "\\" && (next === "\\" || next === "/")) {
      text += next;
      position += 2;
    } else if (character === "$" && next === "{") {
      const substituted = expression(template, position + 2, variable);
      text += substituted.text;
      position = substituted.end;
    } else {
      text += character;
      position += 1;
    }
  }
  return { text, usedUnsetVariable };
}

/** One `${...}` starting after its `${`; returns the substituted text and the index after its `}`. */
function expression(template: string, start: number, variable: (name: string) => string): { text: string; end: number } {
  const name = /^[\p{L}\p{N}_-]+/u.exec(template.slice(start))?.[0];
  if (!name) throw new SubstitutionError(`bad substitution at offset ${start - 2}`);
  let position = start + name.length;
  const value = variable(name);
  if (template[position] === "}") return { text: value, end: position + 1 };
  const operator = defaultOperators.find((candidate) => template.startsWith(candidate, position));
  if (!operator) throw new SubstitutionError(`\${${name}${template[position] ?? ""}...} uses an envsubst form this reproduction does not model`);
  position += operator.length;
  // The default runs to the first `}`, with nested ${...} substituted, as envsubst's parseDefaultFunc reads it.
  let fallback = "";
  while (position < template.length && template[position] !== "}") {
    if (template.startsWith("${", position)) {
      const nested = expression(template, position + 2, variable);
      fallback += nested.text;
      position = nested.end;
    } else {
      fallback += template[position];
      position += 1;
    }
  }
  if (template[position] !== "}") throw new SubstitutionError(`\${${name}${operator}... is not closed`);
  return { text: value === "" ? fallback : value, end: position + 1 };
}

export type ArmParameterType = "string" | "securestring" | "int" | "bool" | "object" | "secureobject" | "array";

/** Each `param name type` of a Bicep file, as the compiled template types it (a `T[]` is an array). */
export function bicepParameterTypes(source: string): Record<string, ArmParameterType> {
  const types: Record<string, ArmParameterType> = {};
  const secure = new Set<string>();
  for (const match of source.matchAll(/@secure\(\)\s*(?:@[^\n]*\n\s*)*param\s+(\w+)/g)) secure.add(match[1]!);
  for (const match of source.matchAll(/^param\s+(\w+)\s+([\w.]+(?:\[\])?)/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    const base = type.endsWith("[]") ? "array" : type;
    if (base === "string") types[name] = secure.has(name) ? "securestring" : "string";
    else if (base === "object") types[name] = secure.has(name) ? "secureobject" : "object";
    else if (base === "int" || base === "bool" || base === "array") types[name] = base;
  }
  return types;
}

interface ArmParameterFile {
  parameters: Record<string, { value?: unknown; reference?: unknown }>;
}

export interface LoadAzdParametersOptions {
  /** The template's parameter types: azd reads them from the compiled template. */
  types: Record<string, ArmParameterType>;
  environment: Record<string, string>;
}

/**
 * The parameters azd sends to ARM, following azd's loadParameters: the file is parsed as JSON first; an array or object
 * parameter whose value is a string has only that string substituted and then parsed as JSON; every other parameter is
 * serialized, substituted as text and parsed again. A parameter that comes out empty because its variable is unset is left
 * out, so the template's default applies.
 */
export function parametersAsAzdSendsThem(template: string, options: LoadAzdParametersOptions): Record<string, unknown> {
  const file = JSON.parse(template) as ArmParameterFile;
  const lookup = (name: string): string | undefined => options.environment[name];
  const sent: Record<string, unknown> = {};
  for (const [name, parameter] of Object.entries(file.parameters)) {
    const type = options.types[name];
    if ((type === "array" || type === "object" || type === "secureobject") && typeof parameter.value === "string") {
      const { text, usedUnsetVariable } = substituteLikeAzd(parameter.value, lookup);
      if (text === "" && usedUnsetVariable) continue;
      try {
        sent[name] = JSON.parse(text) as unknown;
      } catch (error) {
        throw new AzdParameterError(`substituting parameter '${name}' (${type}): ${(error as Error).message}: value '${text}' is not valid JSON`);
      }
      continue;
    }
    const { text, usedUnsetVariable } = substituteLikeAzd(JSON.stringify(parameter), lookup);
    let resolved: { value?: unknown };
    try {
      resolved = JSON.parse(text) as { value?: unknown };
    } catch (error) {
      throw new AzdParameterError(`error unmarshalling Bicep template parameters: ${(error as Error).message}`);
    }
    if (resolved.value === undefined || resolved.value === null) continue;
    if (resolved.value === "" && usedUnsetVariable) continue;
    sent[name] = resolved.value;
  }
  return sent;
}

/** ARM's string() of an object or array: compact JSON text. */
export function armString(value: unknown): string {
  return JSON.stringify(value);
}
