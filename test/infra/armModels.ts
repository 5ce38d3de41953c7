// The wire shape of each Azure resource type, read from the Azure management SDKs' model mappers (serializedName is the name ARM takes).
import fs from "node:fs";
import path from "node:path";

/** A model's location in an SDK package and the API version that package was generated from. */
export interface ArmModelSource {
  sdk: string;
  /** Mapper names whose properties are accepted; more than one when the PUT body and the resource model differ. */
  models: string[];
  sdkApiVersion: string;
}

/** Microsoft.Web/sites/config takes a different body per config name. */
type ModelChoice = ArmModelSource | { byName: Record<string, ArmModelSource> };

const appService = (models: string[]): ArmModelSource => ({ sdk: "@azure/arm-appservice", models, sdkApiVersion: "2024-04-01" });
const storage = (models: string[]): ArmModelSource => ({ sdk: "@azure/arm-storage", models, sdkApiVersion: "2023-05-01" });
const monitor = (models: string[], sdkApiVersion: string): ArmModelSource => ({ sdk: "@azure/arm-monitor", models, sdkApiVersion });

/** Every ARM resource type infra/ may declare; a type missing here fails the check until its model is added. */
export const armModelsByType: Record<string, ModelChoice> = {
  "microsoft.resources/resourcegroups": { sdk: "@azure/arm-resources", models: ["ResourceGroup"], sdkApiVersion: "2021-04-01" },
  "microsoft.web/serverfarms": appService(["AppServicePlan"]),
  "microsoft.web/sites": appService(["Site"]),
  "microsoft.web/sites/config": {
    byName: {
      appsettings: appService(["StringDictionary"]),
      authsettingsv2: appService(["SiteAuthSettingsV2"]),
      web: appService(["SiteConfigResource"]),
      logs: appService(["SiteLogsConfig"]),
    },
  },
  "microsoft.storage/storageaccounts": storage(["StorageAccountCreateParameters", "StorageAccount"]),
  "microsoft.storage/storageaccounts/blobservices": storage(["BlobServiceProperties"]),
  "microsoft.storage/storageaccounts/blobservices/containers": storage(["BlobContainer"]),
  "microsoft.storage/storageaccounts/queueservices": storage(["QueueServiceProperties"]),
  "microsoft.storage/storageaccounts/queueservices/queues": storage(["StorageQueue"]),
  "microsoft.storage/storageaccounts/tableservices": storage(["TableServiceProperties"]),
  "microsoft.storage/storageaccounts/tableservices/tables": storage(["Table"]),
  "microsoft.keyvault/vaults": { sdk: "@azure/arm-keyvault", models: ["VaultCreateOrUpdateParameters", "Vault"], sdkApiVersion: "2023-07-01" },
  "microsoft.insights/components": { sdk: "@azure/arm-appinsights", models: ["ApplicationInsightsComponent"], sdkApiVersion: "2020-02-02" },
  "microsoft.operationalinsights/workspaces": { sdk: "@azure/arm-operationalinsights", models: ["Workspace"], sdkApiVersion: "2022-10-01" },
  "microsoft.managedidentity/userassignedidentities": { sdk: "@azure/arm-msi", models: ["Identity"], sdkApiVersion: "2023-01-31" },
  "microsoft.authorization/roleassignments": { sdk: "@azure/arm-authorization", models: ["RoleAssignmentCreateParameters", "RoleAssignment"], sdkApiVersion: "2022-04-01" },
  "microsoft.insights/metricalerts": monitor(["MetricAlertResource"], "2018-03-01"),
  "microsoft.insights/actiongroups": monitor(["ActionGroupResource"], "2021-09-01"),
  "microsoft.insights/activitylogalerts": monitor(["ActivityLogAlertResource"], "2020-10-01"),
  "microsoft.insights/diagnosticsettings": monitor(["DiagnosticSettingsResource"], "2021-05-01-preview"),
};

/** Types that are not ARM resources, checked instead by the tree-sitter tests in infra.test.ts. */
export const typesOutsideArm = [/^microsoft\.graph\//i];

/** ARM types no npm SDK models with mappers; the Bicep compiler's own type check (a warning fails bicepCompile.test.ts) covers their bodies. */
export const typesWithoutSdkModel: Record<string, string> = {
  "microsoft.insights/scheduledqueryrules": "@azure/arm-monitor 7.x models only the 2018-04-16 API and 8.x ships no mappers",
};

/** Keys Bicep accepts on a resource body that are not part of the ARM request body. */
export const bicepOnlyResourceKeys = new Set(["parent", "scope", "dependson"]);

/** A node of the wire shape: named children, a dictionary's value shape, an array's element shape, or anything. */
export interface WireShape {
  readOnly: boolean;
  anything: boolean;
  properties(): Map<string, WireShape>;
  dictionaryValue(): WireShape | undefined;
  arrayElement(): WireShape | undefined;
  describe: string;
}

interface Mapper {
  serializedName?: string;
  readOnly?: boolean;
  type: { name: string; className?: string; modelProperties?: Record<string, Mapper>; element?: Mapper; value?: Mapper; uberParent?: string; polymorphicDiscriminator?: unknown };
}
type MapperModule = Record<string, Mapper | Record<string, Mapper>>;

const mapperModules = new Map<string, MapperModule>();

/** Loads an SDK's mappers whether it ships them as CommonJS or as ES module text (older packages). */
export function loadMappers(sdk: string, repoRoot: string): MapperModule {
  const cached = mapperModules.get(sdk);
  if (cached) return cached;
  const packageDir = path.join(repoRoot, "node_modules", ...sdk.split("/"));
  const candidates = ["dist/commonjs/models/mappers.js", "dist-esm/src/models/mappers.js", "dist/esm/models/mappers.js"].map((file) => path.join(packageDir, file));
  const file = candidates.find((candidate) => fs.existsSync(candidate));
  if (!file) throw new Error(`${sdk} has no model mappers (looked for ${candidates.map((candidate) => path.relative(repoRoot, candidate)).join(", ")}); is it installed (npm ci)?`);
  const text = fs.readFileSync(file, "utf8");
  let loaded: MapperModule;
  if (/^export (const|let) /m.test(text)) {
    // A plain data module: drop `export`, then hand every exported name back.
    const names = [...text.matchAll(/^export (?:const|let) (\w+)/gm)].map((match) => match[1]!);
    const body = `${text.replace(/^export (const|let) /gm, "$1 ")}\nreturn { ${names.join(", ")} };`;
    loaded = new Function(body)() as MapperModule;
  } else {
    loaded = require(file) as MapperModule;
  }
  mapperModules.set(sdk, loaded);
  return loaded;
}

/** A serializedName's segments: `properties.serverFarmId` is two, `odata\\.type` is one. */
function serializedSegments(serializedName: string): string[] {
  return serializedName.split(/(?<!\\)\./).map((segment) => segment.replace(/\\\./g, "."));
}

/** The wire shape of the given models, read lazily so recursive models do not loop. */
export function wireShapeOf(source: ArmModelSource, repoRoot: string): WireShape {
  const mappers = loadMappers(source.sdk, repoRoot);
  const discriminators = (mappers["discriminators"] ?? {}) as Record<string, Mapper>;
  const model = (className: string): Mapper => {
    const found = mappers[className] as Mapper | undefined;
    if (!found?.type) throw new Error(`${source.sdk} has no model ${className}`);
    return found;
  };

  // A composite's own properties plus, when it is polymorphic, those of every subtype (the check does not know which one is meant).
  const compositeProperties = (className: string): Record<string, Mapper>[] => {
    const own = model(className).type.modelProperties ?? {};
    const subtypes = Object.entries(discriminators)
      .filter(([key]) => key.startsWith(`${className}.`))
      .map(([, subtype]) => subtype.type.modelProperties ?? {});
    return [own, ...subtypes];
  };

  const shapeOfMapper = (mapper: Mapper, describe: string): WireShape => {
    const { type } = mapper;
    if (type.name === "Composite" && type.className) return shapeOfComposites([type.className], describe, mapper.readOnly ?? false);
    return {
      readOnly: mapper.readOnly ?? false,
      anything: type.name === "Object" || type.name === "any",
      properties: () => new Map(),
      dictionaryValue: () => (type.name === "Dictionary" && type.value ? shapeOfMapper(type.value, `${describe}{}`) : undefined),
      arrayElement: () => (type.name === "Sequence" && type.element ? shapeOfMapper(type.element, `${describe}[]`) : undefined),
      describe,
    };
  };

  // Flattened names such as properties.serverFarmId become a nested `properties` object, as on the wire.
  const shapeOfComposites = (classNames: string[], describe: string, readOnly: boolean): WireShape => {
    let built: Map<string, WireShape> | undefined;
    const properties = (): Map<string, WireShape> => {
      if (built) return built;
      const tree = new Map<string, { mapper?: Mapper; children: Map<string, unknown> }>();
      type TreeNode = { mapper?: Mapper; children: Map<string, TreeNode> };
      const root: TreeNode = { children: tree as Map<string, TreeNode> };
      for (const className of classNames) {
        for (const modelProperties of compositeProperties(className)) {
          for (const mapper of Object.values(modelProperties)) {
            if (!mapper.serializedName) continue;
            let node = root;
            for (const segment of serializedSegments(mapper.serializedName)) {
              const key = segment.toLowerCase();
              if (!node.children.has(key)) node.children.set(key, { children: new Map() });
              node = node.children.get(key)!;
            }
            node.mapper ??= mapper;
          }
        }
      }
      const toShape = (node: TreeNode, name: string): WireShape => {
        const leaf = node.mapper ? shapeOfMapper(node.mapper, name) : undefined;
        if (node.children.size === 0 && leaf) return leaf;
        return {
          readOnly: leaf?.readOnly ?? false,
          anything: leaf?.anything ?? false,
          properties: () => {
            const merged = new Map(leaf?.properties() ?? []);
            for (const [key, child] of node.children) merged.set(key, toShape(child, `${name}.${key}`));
            return merged;
          },
          dictionaryValue: () => leaf?.dictionaryValue(),
          arrayElement: () => leaf?.arrayElement(),
          describe: name,
        };
      };
      built = new Map([...root.children].map(([key, child]) => [key, toShape(child, `${describe}.${key}`)]));
      return built;
    };
    return { readOnly, anything: false, properties, dictionaryValue: () => undefined, arrayElement: () => undefined, describe };
  };

  return shapeOfComposites(source.models, source.models.join("|"), false);
}
