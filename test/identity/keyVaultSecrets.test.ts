// Client secrets kept in Key Vault: rotation without restart, expiry warnings, clear failures, and no secret value in any output.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { main } from "../../src/cli/main";
import { createDirectoryCredential } from "../../src/identity/credentialFactory";
import { readCredentialStatus } from "../../src/identity/credentialStatus";
import { silentLogger } from "../../src/logging/logger";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { ids, startIdentityEnvironment, type IdentityEnvironment } from "./identityEnvironment";

let world: IdentityEnvironment;
const dayMs = 86_400_000;
let secretCounter = 0;

before(async () => {
  // Tokens shorter than MSAL's five-minute refresh margin make every Graph request go to the token endpoint, as a long-lived host eventually does.
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 5, users: 25, groups: 6 }), accessTokenLifetimeSeconds: 60 });
});
after(async () => world?.stop());

/** A fresh secret name and app-registration secret, so the tests do not share state. */
function freshSecret(options: { expiresInDays?: number; value?: string } = {}) {
  const name = `sync-secret-${++secretCounter}`;
  const value = options.value ?? `kv-value-${secretCounter}-${Math.random().toString(36).slice(2)}-do-not-log`;
  world.env.standIn.updateClient(ids.secretApp, { clientSecret: value, clientSecrets: [] });
  world.vault.setSecret(name, value, options.expiresInDays === undefined ? {} : { expiresOn: new Date(Date.now() + options.expiresInDays * dayMs) });
  const settings = world.settings({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: name });
  return { name, value, settings };
}

function logText(): string {
  return JSON.stringify(world.env.logs);
}

describe("client secret in Key Vault", () => {
  test("a secret rotated mid-life (old one revoked, new version in the vault) is re-read on invalid_client, without a restart", async () => {
    const { name, settings } = freshSecret({ expiresInDays: 300 });
    const composition = world.env.compose(settings, { credentialFromSettings: true });
    const first = await composition.engine.run({ trigger: "cli" });
    assert.equal(first.summary.status, "succeeded", first.summary.error);
    assert.equal(world.vault.readsOf(name), 1, "read once and cached");

    const rotated = `rotated-${Math.random().toString(36).slice(2)}-value`;
    world.vault.setSecret(name, rotated, { expiresOn: new Date(Date.now() + 365 * dayMs) });
    world.env.standIn.updateClient(ids.secretApp, { clientSecret: rotated });
    world.env.model.updateUser([...world.env.model.users.keys()][0]!, { jobTitle: "After rotation" });

    const second = await composition.engine.run({ trigger: "cli" });
    assert.equal(second.summary.status, "succeeded", second.summary.error);
    assert.equal(world.vault.readsOf(name), 2, "the rejection made the credential read the vault again, once");
    assert.ok(world.env.logs.some((line) => line.level === "warn" && /rejected the client secret from Key Vault secret "sync-secret-\d+".*AADSTS7000215.*reading it again/.test(line.message)), logText());
    assertStoreMatches(await composition.store.snapshot(), world.env.model);
  });

  test("a secret expiring in 10 days: every run records a warning, and the log says how to renew it", async () => {
    const { name, settings } = freshSecret({ expiresInDays: 10.5 });
    for (let run = 0; run < 2; run++) {
      const { summary } = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "schedule" });
      assert.equal(summary.status, "succeeded", summary.error);
      const warning = summary.warnings.find((text) => text.includes(`Key Vault secret "${name}"`));
      assert.ok(warning, JSON.stringify(summary.warnings));
      assert.match(warning, /expires on \d{4}-\d\d-\d\d, in 10 days/);
    }
    const logged = world.env.logs.filter((line) => line.level === "warn" && line.message.includes(`"${name}"`));
    assert.equal(logged.length, 2, "one log line per run");
    assert.match(logged[0]!.message, new RegExp(`az keyvault secret set --vault-name \\S+ --name ${name} --value <the new secret> --expires `));
    assert.match(logged[0]!.message, new RegExp(`az ad app credential reset --id ${ids.secretApp}`));

    const [status] = await readCredentialStatus(world.settings({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: name }));
    assert.equal(status?.secret?.state, "expiring");
    assert.equal(status?.secret?.daysLeft, 10);
    assert.match(status?.secret?.message ?? "", /az keyvault secret set/);
  });

  test("SECRET_EXPIRY_WARNING_DAYS moves the warning window", async () => {
    const { settings } = freshSecret({ expiresInDays: 40 });
    const quiet = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.deepEqual(quiet.summary.warnings, []);
    const early = await world.env.compose({ ...settings, secretExpiryWarningDays: 60 }, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(early.summary.warnings.length, 1);
  });

  test("a missing secret fails the run with a message naming the secret, the vault and the fix", async () => {
    const settings = world.settings({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: "never-stored" });
    const { summary } = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(summary.status, "failed");
    assert.match(summary.error ?? "", /Key Vault secret "never-stored" in https:\/\/127\.0\.0\.1:\d+ was not found \(404 SecretNotFound\)/);
    assert.match(summary.error ?? "", /az keyvault secret set --vault-name \S+ --name never-stored --value <client secret> --expires/);
    assert.doesNotMatch(summary.error ?? "", /\n\s+at /, "a message, not a stack trace");
  });

  test("an expired secret fails the run before any Graph request, naming the secret, the vault and the renewal", async () => {
    const { name, settings } = freshSecret({ expiresInDays: -2 });
    const graphBefore = world.env.standIn.graphRequestCount();
    const { summary } = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(summary.status, "failed");
    assert.match(summary.error ?? "", new RegExp(`Key Vault secret "${name}" in https://127\\.0\\.0\\.1:\\d+ \\(the client secret of app ${ids.secretApp}\\) expired on `));
    assert.match(summary.error ?? "", /az keyvault secret set/);
    assert.equal(world.env.standIn.graphRequestCount(), graphBefore);
  });

  test("a wrong secret: invalid_client, one re-read that finds the same value, then a clear failure", async () => {
    const { name, settings } = freshSecret({ expiresInDays: 90 });
    world.env.standIn.updateClient(ids.secretApp, { clientSecret: "what-the-app-really-has" });
    const { summary } = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(summary.status, "failed");
    assert.equal(world.vault.readsOf(name), 2, "read, rejected, read again");
    assert.match(summary.error ?? "", new RegExp(`Microsoft Entra rejected the client secret in Key Vault secret "${name}" in https://127\\.0\\.0\\.1:\\d+ for app ${ids.secretApp}`));
    assert.match(summary.error ?? "", /AADSTS7000215: invalid client secret/);
    assert.match(summary.error ?? "", /also after reading the secret again/);
  });

  test("the managed identity without access to the vault: 403 names the role to grant", async () => {
    const { settings } = freshSecret({ expiresInDays: 90 });
    world.vault.grantRead("someone-else");
    try {
      const { summary } = await world.env.compose(settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
      assert.equal(summary.status, "failed");
      assert.match(summary.error ?? "", /may not read Key Vault secret "sync-secret-\d+".*Key Vault Secrets User/);
    } finally {
      world.vault.grantRead(world.identity.identity(ids.appIdentity).principalId as string);
    }
  });

  test("no secret value appears in logs, run records, errors, or the CLI's stdout and stderr", async () => {
    const good = freshSecret({ expiresInDays: 12 });
    const captured: string[] = [];
    const { summary } = await world.env.compose(good.settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(summary.status, "succeeded", summary.error);
    captured.push(JSON.stringify(summary));
    const stored = await world.env.compose(good.settings).runLog.listRecent(5);
    captured.push(JSON.stringify(stored));

    // A vault value the app registration does not accept travels through the failure path.
    const wrong = freshSecret({ expiresInDays: 12 });
    world.env.standIn.updateClient(ids.secretApp, { clientSecret: good.value });
    const failed = await world.env.compose(wrong.settings, { credentialFromSettings: true }).engine.run({ trigger: "cli" });
    assert.equal(failed.summary.status, "failed");
    captured.push(JSON.stringify(failed.summary));
    const thrown = await createDirectoryCredential(wrong.settings, { logger: silentLogger })
      .getToken(`${wrong.settings.graphEndpoint}/.default`)
      .then(() => undefined, (error: unknown) => error as Error);
    assert.ok(thrown);
    captured.push(`${thrown.name}: ${thrown.message}\n${thrown.stack ?? ""}\n${JSON.stringify(thrown)}`);

    // The CLI as an admin runs it, with every log line on stderr.
    world.env.standIn.updateClient(ids.secretApp, { clientSecret: good.value });
    const cliEnvironment = world.environment({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: good.name });
    for (const args of [["sync", "--json", "--verbose"], ["sync", "--verbose"], ["status", "--json"], ["check", "--verbose"], ["check", "--json"]]) {
      const output = await captureCli(args, cliEnvironment);
      captured.push(output.stdout, output.stderr);
      if (args[0] === "sync") assert.match(output.stdout, /succeeded/, output.stderr);
    }
    captured.push(logText());

    const everything = captured.join("\n");
    assert.ok(everything.includes(`Key Vault secret "${good.name}"`), "the output does talk about the secret");
    for (const secret of [good.value, wrong.value]) assert.ok(!everything.includes(secret), `a secret value leaked: ${secret}`);
    assert.doesNotMatch(everything, /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./, "no access token or assertion leaked");
  });
});

/** Runs the CLI in-process with these settings as environment variables, capturing what it writes. */
async function captureCli(args: string[], environment: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = new Map(Object.keys(environment).map((name) => [name, process.env[name]]));
  Object.assign(process.env, environment);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (stdout.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout: stdout.join(""), stderr: stderr.join("") };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
