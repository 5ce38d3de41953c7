// Walks every resource body in a Bicep file and reports each property path the resource type's ARM model does not have.
import type { Node } from "web-tree-sitter";
import { armModelsByType, bicepOnlyResourceKeys, typesOutsideArm, typesWithoutSdkModel, wireShapeOf, type ArmModelSource, type WireShape } from "./armModels";
import { meaningfulChildren, objectProperties, propertyKey, stringLiteral, variableValue } from "./bicepTree";

export interface PropertyProblem {
  where: string;
  message: string;
}

/** A resource declaration with its full type, nested children's types joined to their parent's. */
interface TypedResource {
  symbol: string;
  fullType: string;
  apiVersion: string;
  body: Node | undefined;
  existing: boolean;
  node: Node;
}

function resourceBody(resource: Node): Node | undefined {
  const parts = meaningfulChildren(resource);
  const last = parts[parts.length - 1];
  if (last?.type === "if_statement") return last.namedChildren.find((child) => child.type === "object");
  if (last?.type === "for_statement") return last.descendantsOfType("object")[0] ?? undefined;
  return last?.type === "object" ? last : undefined;
}

function typedResources(root: Node): TypedResource[] {
  const resources: TypedResource[] = [];
  const fullTypes = new Map<number, string>();
  for (const resource of root.descendantsOfType("resource_declaration")) {
    if (!resource) continue;
    const parts = meaningfulChildren(resource);
    const typeText = stringLiteral(parts[1]) ?? "";
    const [typeName = "", apiVersion = ""] = typeText.split("@");
    let fullType = typeName;
    // A child declared inside its parent names only its own segment, such as blobServices@2023-05-01.
    if (!typeName.includes(".")) {
      let ancestor = resource.parent;
      while (ancestor && ancestor.type !== "resource_declaration") ancestor = ancestor.parent;
      const parentType = ancestor ? fullTypes.get(ancestor.id) : undefined;
      fullType = parentType ? `${parentType}/${typeName}` : typeName;
    }
    fullTypes.set(resource.id, fullType);
    resources.push({ symbol: parts[0]?.text ?? "", fullType, apiVersion, body: resourceBody(resource), existing: resource.children.some((child) => child?.type === "existing"), node: resource });
  }
  return resources;
}

function modelFor(resource: TypedResource): ArmModelSource | "outside-arm" | undefined {
  if (typesOutsideArm.some((pattern) => pattern.test(resource.fullType)) || resource.fullType.toLowerCase() in typesWithoutSdkModel) return "outside-arm";
  const choice = armModelsByType[resource.fullType.toLowerCase()];
  if (!choice) return undefined;
  if (!("byName" in choice)) return choice;
  const name = stringLiteral(objectProperties(resource.body).get("name"))?.toLowerCase() ?? "";
  return choice.byName[name];
}

/** The expressions a value may stand for: a variable's value, a filter's input, both sides of a condition. */
function expressionsBehind(value: Node, root: Node, seen = new Set<number>()): Node[] {
  if (seen.has(value.id)) return [];
  seen.add(value.id);
  switch (value.type) {
    case "object":
    case "array":
      return [value];
    case "parenthesized_expression":
      return value.namedChildren.flatMap((child) => expressionsBehind(child, root, seen));
    case "identifier": {
      const variable = variableValue(root, value.text);
      return variable ? expressionsBehind(variable, root, seen) : [];
    }
    case "ternary_expression": {
      const [, whenTrue, whenFalse] = meaningfulChildren(value);
      return [whenTrue, whenFalse].flatMap((branch) => (branch ? expressionsBehind(branch, root, seen) : []));
    }
    case "call_expression": {
      const [callee, argumentList] = meaningfulChildren(value);
      const argumentsOf = meaningfulChildren(argumentList ?? value).filter((argument) => argument.type !== "lambda_expression");
      // filter and sort return their input's elements; union and concat merge their arguments.
      if (["filter", "sort", "union", "concat"].includes(callee?.text ?? "")) {
        const inputs = callee?.text === "filter" || callee?.text === "sort" ? argumentsOf.slice(0, 1) : argumentsOf;
        return inputs.flatMap((argument) => expressionsBehind(argument, root, seen));
      }
      return [];
    }
    default:
      return [];
  }
}

/** Reports every key under `value` that `shape` lacks, case-insensitively as ARM matches them. */
function checkValue(value: Node, shape: WireShape, path: string, context: { root: Node; relativePath: string; problems: PropertyProblem[] }): void {
  if (shape.anything) return;
  for (const expression of expressionsBehind(value, context.root)) {
    if (expression.type === "array") {
      const element = shape.arrayElement();
      if (!element) {
        context.problems.push({ where: `${context.relativePath}:${expression.startPosition.row + 1}`, message: `${path} is not an array in the ARM model` });
        continue;
      }
      for (const item of meaningfulChildren(expression)) checkValue(item, element, `${path}[]`, context);
      continue;
    }
    const dictionaryValue = shape.dictionaryValue();
    for (const property of expression.namedChildren.filter((child) => child.type === "object_property")) {
      const key = propertyKey(property);
      const parts = meaningfulChildren(property);
      const propertyValue = parts[parts.length - 1];
      const where = `${context.relativePath}:${property.startPosition.row + 1}`;
      if (dictionaryValue) {
        if (propertyValue && parts.length >= 2) checkValue(propertyValue, dictionaryValue, `${path}.${key ?? "*"}`, context);
        continue;
      }
      // An interpolated key cannot be known here; ARM would reject a wrong one at deployment.
      if (key === undefined) continue;
      const child = shape.properties().get(key.toLowerCase());
      if (!child) {
        context.problems.push({ where, message: `${path}.${key} is not a property of ${shape.describe}` });
        continue;
      }
      if (child.readOnly) context.problems.push({ where, message: `${path}.${key} is read-only in the ARM model; setting it does nothing` });
      if (propertyValue && parts.length >= 2) checkValue(propertyValue, child, `${path}.${key}`, context);
    }
  }
}

export interface CheckPropertiesOptions {
  repoRoot: string;
}

/** Every property path of every resource body in the file, against the SDK model of its type. */
export function checkResourceProperties(file: { relativePath: string; root: Node }, options: CheckPropertiesOptions): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  for (const resource of typedResources(file.root)) {
    const where = `${file.relativePath}:${resource.node.startPosition.row + 1}`;
    const model = modelFor(resource);
    if (model === "outside-arm") continue;
    if (!model) {
      problems.push({ where, message: `no SDK model is mapped for ${resource.fullType}; add it to armModelsByType in test/infra/armModels.ts` });
      continue;
    }
    if (!resource.body) continue;
    const shape = wireShapeOf(model, options.repoRoot);
    const context = { root: file.root, relativePath: file.relativePath, problems };
    for (const property of resource.body.namedChildren.filter((child) => child.type === "object_property")) {
      const key = propertyKey(property);
      const parts = meaningfulChildren(property);
      const value = parts[parts.length - 1];
      if (!key || bicepOnlyResourceKeys.has(key.toLowerCase())) continue;
      const child = shape.properties().get(key.toLowerCase());
      const at = `${file.relativePath}:${property.startPosition.row + 1}`;
      if (!child) {
        problems.push({ where: at, message: `${resource.symbol}.${key} is not a property of ${resource.fullType} (${model.sdk} ${model.models.join("|")})` });
        continue;
      }
      // ARM reports name as read-only, but it is how Bicep addresses the resource.
      if (child.readOnly && key !== "name") problems.push({ where: at, message: `${resource.symbol}.${key} is read-only in the ARM model; setting it does nothing` });
      if (value && parts.length >= 2 && key !== "name") checkValue(value, child, `${resource.symbol}.${key}`, context);
    }
  }
  return problems;
}

/** The resource types of a file with the API version each declares, for the version table in the test. */
export function declaredResourceTypes(root: Node): { fullType: string; apiVersion: string }[] {
  return typedResources(root).map(({ fullType, apiVersion }) => ({ fullType, apiVersion }));
}
