// Reproduces what azd does to infra/main.parameters.json: drone/envsubst text substitution of ${VAR}, then a JSON parse.

/** Thrown where envsubst itself would fail ("bad substitution"), or for a form this reproduction does not model. */
export class SubstitutionError extends Error {
  override name = "SubstitutionError";
}

// The forms azd's templates use; envsubst's other operators (${#V}, ${V/a/b}, ${V:?x}, ...) would need modelling before use.
const defaultOperators = ["=", ":=", ":-", "-"];

/**
 * Substitutes like github.com/drone/envsubst, as azd's loadParameters calls it: only `${...}` is replaced, values are inserted
 * as raw text and never rescanned, an unset variable is empty, `${V=default}` takes the default when the value is empty,
 * and in the template's own text `$$` becomes `$` and a backslash before `\` or `/` is dropped.
 */
export function substituteLikeAzd(template: string, lookup: (name: string) => string | undefined): string {
  let output = "";
  let position = 0;
  while (position < template.length) {
    const character = template[position]!;
    const next = template[position + 1];
    if (character === "$" && next === "$") {
      output += "$";
      position += 2;
    } else if (character === "\\" && (next === "\\" || next === "/")) {
      output += next;
      position += 2;
    } else if (character === "$" && next === "{") {
      const { text, end } = expression(template, position + 2, lookup);
      output += text;
      position = end;
    } else {
      output += character;
      position += 1;
    }
  }
  return output;
}

/** One `${...}` starting after its `${`; returns the substituted text and the index after its `}`. */
function expression(template: string, start: number, lookup: (name: string) => string | undefined): { text: string; end: number } {
  const name = /^[\p{L}\p{N}_-]+/u.exec(template.slice(start))?.[0];
  if (!name) throw new SubstitutionError(`bad substitution at offset ${start - 2}`);
  let position = start + name.length;
  const value = lookup(name) ?? "";
  if (template[position] === "}") return { text: value, end: position + 1 };
  const operator = defaultOperators.find((candidate) => template.startsWith(candidate, position));
  if (!operator) throw new SubstitutionError(`\${${name}${template[position] ?? ""}...} uses an envsubst form this reproduction does not model`);
  position += operator.length;
  // The default runs to the first `}`, with nested ${...} substituted, as envsubst's parseDefaultFunc reads it.
  let fallback = "";
  while (position < template.length && template[position] !== "}") {
    if (template.startsWith("${", position)) {
      const nested = expression(template, position + 2, lookup);
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

export interface ArmParameterFile {
  parameters: Record<string, { value?: unknown }>;
}

/** The parameters azd sends to ARM: substituted text, parsed as JSON (azd fails the provision when it does not parse). */
export function parametersAsAzdSendsThem(template: string, environment: Record<string, string>): Record<string, unknown> {
  const substituted = substituteLikeAzd(template, (name) => environment[name]);
  const parsed = JSON.parse(substituted) as ArmParameterFile;
  return Object.fromEntries(Object.entries(parsed.parameters).map(([name, parameter]) => [name, parameter.value]));
}

/** ARM's base64ToString: the bytes decoded as UTF-8. */
export function armBase64ToString(value: string): string {
  return Buffer.from(value, "base64").toString("utf8");
}

/** What the docs tell the admin to run (bash: base64 | tr -d '\n'; PowerShell: [Convert]::ToBase64String of the UTF-8 bytes). */
export function encodeForAzd(json: string): string {
  return Buffer.from(json, "utf8").toString("base64");
}
