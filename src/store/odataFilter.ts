// Evaluates the subset of Table Storage's OData filter language the core uses, so stores other than Table Storage answer the same queries.

type Literal = string | boolean | number;
type Filter = (row: Record<string, unknown>) => boolean;

const comparisons = new Set(["eq", "ne", "lt", "le", "gt", "ge"]);
const tokenPattern = /\s*(\(|\)|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)/y;

export class UnsupportedFilterError extends Error {
  override name = "UnsupportedFilterError";
}

/** Compiles a filter such as `PartitionKey eq 't_0a' and (deleted eq false)` into a predicate over rows. */
export function compileFilter(filter: string | undefined): Filter {
  if (filter === undefined || filter.trim() === "") return () => true;
  const tokens = tokenize(filter);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => {
    const token = tokens[position++];
    if (token === undefined) throw new UnsupportedFilterError(`Filter ended early: ${filter}`);
    return token;
  };
  const parseOr = (): Filter => {
    const parts = [parseAnd()];
    while (peek() === "or") (next(), parts.push(parseAnd()));
    return parts.length === 1 ? parts[0]! : (row) => parts.some((part) => part(row));
  };
  const parseAnd = (): Filter => {
    const parts = [parseTerm()];
    while (peek() === "and") (next(), parts.push(parseTerm()));
    return parts.length === 1 ? parts[0]! : (row) => parts.every((part) => part(row));
  };
  const parseTerm = (): Filter => {
    if (peek() === "(") {
      next();
      const inner = parseOr();
      if (next() !== ")") throw new UnsupportedFilterError(`Expected ) in ${filter}`);
      return inner;
    }
    const property = next();
    const operator = next();
    if (!comparisons.has(operator)) throw new UnsupportedFilterError(`Unsupported operator ${operator} in ${filter}`);
    return comparison(property, operator, literal(next(), filter));
  };
  const compiled = parseOr();
  if (position !== tokens.length) throw new UnsupportedFilterError(`Unexpected ${tokens[position]} in ${filter}`);
  return compiled;
}

function tokenize(filter: string): string[] {
  const tokens: string[] = [];
  tokenPattern.lastIndex = 0;
  while (tokenPattern.lastIndex < filter.length) {
    const start = tokenPattern.lastIndex;
    const match = tokenPattern.exec(filter);
    if (!match) {
      if (filter.slice(start).trim() === "") break;
      throw new UnsupportedFilterError(`Cannot read the filter at "${filter.slice(start, start + 20)}"`);
    }
    tokens.push(match[1]!);
  }
  return tokens;
}

function literal(token: string, filter: string): Literal {
  if (token.startsWith("'")) return token.slice(1, -1).replace(/''/g, "'");
  if (token === "true" || token === "false") return token === "true";
  if (/^-?\d/.test(token)) return Number(token);
  throw new UnsupportedFilterError(`Unsupported value ${token} in ${filter}`);
}

/** Table Storage compares only values of the same type; a missing property, or one of another type, matches nothing. */
function comparison(property: string, operator: string, value: Literal): Filter {
  const name = property === "PartitionKey" ? "partitionKey" : property === "RowKey" ? "rowKey" : property;
  return (row) => {
    const actual = row[name];
    if (typeof actual !== typeof value) return false;
    const order = actual === value ? 0 : (actual as Literal) < value ? -1 : 1;
    switch (operator) {
      case "eq":
        return order === 0;
      case "ne":
        return order !== 0;
      case "lt":
        return order < 0;
      case "le":
        return order <= 0;
      case "gt":
        return order > 0;
      default:
        return order >= 0;
    }
  };
}
