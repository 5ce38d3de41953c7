// The embedded default: a sample tenant in a local Graph stand-in, synced into Azurite, so a newcomer sees the product work.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { loadSettings } from "../config/settings";
import { compose } from "../compositionRoot";
import { createLogger, jsonLinesSink } from "../logging/logger";
import { startAzurite } from "../../standin/azuriteProcess";
import { DirectoryModel } from "../../standin/directoryModel";
import { GraphStandIn } from "../../standin/graphStandIn";
import { relaunchTrustingStandIn, standInCertDir } from "../../standin/trustedRelaunch";
import { formatRunSummary } from "./runReport";
import { keptDemoDir, type DemoOptions, type KeptDemo } from "./demoOptions";

export type { DemoOptions } from "./demoOptions";

export const demoClient = { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret" };

export async function runDemo(options: DemoOptions): Promise<number> {
  const relaunched = relaunchTrustingStandIn();
  if (relaunched !== undefined) return relaunched;
  const out = (line = "") => process.stdout.write(`${line}\n`);
  out("Starting Azurite (Table Storage emulator) and a local Microsoft Graph stand-in…");
  const kept = options.keep ? keptDemoDir() : undefined;
  // A kept store starts empty each time, so its runs are this demo's.
  if (kept) rmSync(kept, { recursive: true, force: true });
  const azurite = await startAzurite(kept ? { location: join(kept, "azurite") } : {});
  const model = DirectoryModel.generate({ seed: 2026, users: options.users, groups: options.groups });
  const standIn = await GraphStandIn.start({ certDir: standInCertDir, model });
  try {
    const settings = loadSettings({
      ENTRA_TENANT_ID: standIn.tenantId,
      GRAPH_ENDPOINT: standIn.url,
      AUTHORITY_HOST: standIn.url,
      DirectoryStorage: azurite.connectionString,
      TABLE_PREFIX: "demo",
    });
    const credential = new ClientSecretCredential(settings.tenantId, demoClient.clientId, demoClient.clientSecret, { authorityHost: standIn.url, disableInstanceDiscovery: true });
    const logger = createLogger(options.verbose ? jsonLinesSink : () => undefined);
    const composition = compose(settings, {
      logger,
      credential,
      onProgress: (progress) => process.stderr.write(`  … ${progress.stream}: ${progress.pages} pages, ${progress.objects} objects\n`),
    });
    out(`\n1. Full sync of a sample tenant: ${model.users.size} users, ${model.groups.size} groups`);
    const full = await composition.engine.run({ mode: "full", trigger: "demo" });
    out(formatRunSummary(full.summary));

    out("\n2. Changing the directory: a new starter, a leaver, a rename, a soft-deleted account, membership moves");
    const users = [...model.users.values()].filter((user) => !user.deleted && user.userType === "Member");
    const groups = [...model.groups.values()];
    const starter = model.createUser({ displayName: "Ada Newcomer", givenName: "Ada", surname: "Newcomer" });
    model.addMember(groups[0]!.id, starter.id);
    model.hardDeleteUser(users[0]!.id);
    model.updateUser(users[1]!.id, { jobTitle: "Deputy Head", department: "Leadership" });
    model.softDeleteUser(users[2]!.id);
    model.addMember(groups[1]!.id, users[3]!.id);
    const firstMember = [...(model.members.get(groups[2]!.id)?.keys() ?? [])][0];
    if (firstMember) model.removeMember(groups[2]!.id, firstMember);

    out("\n3. Incremental sync: only the changes are read and written");
    const incremental = await composition.engine.run({ trigger: "demo" });
    out(formatRunSummary(incremental.summary));

    out("\n4. What a consuming application reads");
    const [sampleUser] = (await composition.store.readObjects("users", [starter.id])).values();
    out(`  user ${starter.id}: ${JSON.stringify(sampleUser?.properties)}`);
    const lists = await composition.store.readMemberGroups(starter.id);
    out(`  groups of ${sampleUser?.properties.displayName}: ${lists.groups.map((groupId) => `${model.groups.get(groupId)?.displayName} (${lists.directGroups.includes(groupId) ? "direct" : "through nesting"})`).join(", ")}`);
    out(`\nTables: ${Object.values(composition.tables).map((table) => table.tableName).join(", ")} (schema: docs/schema.md)`);
    if (kept) {
      const record: KeptDemo = { tenantId: settings.tenantId, tablePrefix: settings.tablePrefix };
      writeFileSync(join(kept, "demo.json"), `${JSON.stringify(record, null, 2)}\n`);
      out(`\nThe store is kept in ${kept}. Try: npm run cli -- status --demo, npm run cli -- export --demo, npm run cli -- suggest-exclusions --demo (each starts Azurite on it for the command). Delete the folder to drop it.`);
    } else out("\nThe store was in memory and is gone; npm run demo -- --keep keeps it for status, export and suggest-exclusions.");
    return full.summary.status === "succeeded" && incremental.summary.status === "succeeded" ? 0 : 1;
  } finally {
    await standIn.stop();
    await azurite.stop();
  }
}
