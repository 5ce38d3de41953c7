// The console in a real browser (Debian's chromium driven by playwright-core) against the local host: what a viewer and an admin see and can do.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startConsoleHost, type ConsoleHost, type DevelopmentRole } from "../../src/cli/consoleHost";
import { silentLogger } from "../../src/logging/logger";

/** Debian's package; the tests never download a browser build. */
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Screenshots are test artefacts, written here and ignored by git. */
const artefacts = path.resolve(__dirname, "../../../test-artifacts/console");
/** Long enough to see each page of a run's progress, short enough to keep the file quick. */
const graphLatencyMs = 700;

let host: ConsoleHost;
let browser: BrowserContext;
let page: Page;
let profile: string;

before(async () => {
  host = await startConsoleHost({ port: 0, users: 30, groups: 6, initialSync: true, graphLatencyMs: 20, retryDelayMs: 50, settings: { DELETION_THRESHOLD_COUNT: "3", DELETION_THRESHOLD_PERCENT: "0" }, logger: silentLogger });
  await host.idle();
  mkdirSync(artefacts, { recursive: true });
  profile = mkdtempSync(path.join(tmpdir(), "console-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 860 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await host?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function signIn(role: DevelopmentRole, hash = "#/overview"): Promise<void> {
  await page.goto(`${host.url}/.auth/login/aad?role=${role}&post_login_redirect_uri=${encodeURIComponent(`/api/console${hash}`)}`);
  await page.locator("#role").waitFor();
  await page.locator("#view-title").waitFor();
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artefacts, `${name}.png`), fullPage: true });
}

/** Presses Tab until focus comes round to a stop it passed before and returns what each stop was: its id, else its text. */
async function tabStops(limit = 80): Promise<string[]> {
  const stops: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    // Browser code as text: the test's TypeScript has no DOM types.
    const stop = await page.evaluate<string>("(() => { const e = document.activeElement; return e && e !== document.body ? e.id || (e.textContent || '').trim() || e.tagName : ''; })()");
    // A date-time field has a stop per part (day, month, year, time), each reported as the field itself.
    if (stop !== "" && stop === stops[stops.length - 1]) continue;
    // Past the last stop focus leaves the document; a stop seen before means focus came round.
    if ((stop === "" && stops.length > 0) || stops.includes(stop)) break;
    if (stop !== "") stops.push(stop);
  }
  return stops;
}

/** Polls from the test side: the page's CSP forbids the string evaluation waitForFunction would need. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the admin console in a browser", () => {
  test("an unsigned visitor is sent to sign in; a viewer sees status and runs and cannot act", async () => {
    await page.goto(`${host.url}/api/console`);
    assert.match(page.url(), /\/\.auth\/login\/aad\?post_login_redirect_uri=%2Fapi%2Fconsole$/);
    await signIn("viewer");
    await page.getByText("Last successful sync").waitFor();
    assert.equal(await page.locator("#role").textContent(), "viewer");
    assert.equal(await page.locator("#sync-now").count(), 0, "no Sync now for a viewer");
    assert.match((await page.locator("#no-actions").textContent()) ?? "", /Sync\.Admin/);
    assert.match((await page.locator("#last-run").textContent()) ?? "", /succeeded/);
    await screenshot("viewer-overview");
    await page.getByRole("link", { name: "Runs" }).click();
    await page.locator("#runs-table table").waitFor();
    assert.ok((await page.locator("#runs-table tbody tr").count()) >= 1);
    const status = await page.evaluate(async () => (await fetch("/api/console/sync", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status);
    assert.equal(status, 403, "the API refuses a viewer's POST too");
  });

  test("an admin presses Sync now and sees the run's progress, then its success", async () => {
    await signIn("admin");
    for (let i = 0; i < 35; i++) host.model.createUser({ displayName: `Starter ${i}`, givenName: "Starter", surname: String(i) });
    host.standIn.faults.latencyMs = graphLatencyMs;
    const before = (await page.locator("#last-run a").textContent()) ?? "";
    await page.locator("#sync-now").click();
    await page.locator(".active-run").waitFor();
    await page.locator("#progress-text", { hasText: /users: \d+ pages/ }).waitFor();
    await screenshot("admin-sync-progress");
    await page.locator(".active-run").waitFor({ state: "detached", timeout: 30_000 });
    host.standIn.faults.latencyMs = 0;
    const lastRun = (await page.locator("#last-run").textContent()) ?? "";
    assert.match(lastRun, /succeeded/);
    assert.notEqual((await page.locator("#last-run a").textContent()) ?? "", before, "the last run is the new one");
    // announce() clears the live region and sets the message 50 ms later, which a loaded machine can outlast.
    await page.locator("#announcer", { hasText: /succeeded/ }).waitFor({ timeout: 5_000 });
    await screenshot("admin-overview");
  });

  test("a Test run shows its plan and writes nothing", async () => {
    await signIn("admin", "#/test");
    const users = [...host.model.users.values()].filter((user) => !user.deleted);
    host.model.updateUser(users[0]!.id, { jobTitle: "Planned change" });
    host.model.createUser({ displayName: "Planned Newcomer", givenName: "Planned", surname: "Newcomer" });
    const runsBefore = (await host.service.listRuns(host.settings.tenantId, { limit: 1 })).runs[0]!;
    await page.locator("#start-test-run").click();
    await page.getByRole("heading", { name: /Plan of test run/ }).waitFor({ timeout: 30_000 });
    assert.match((await page.locator("#would-quarantine").textContent()) ?? "", /Would not be quarantined/);
    const plan = (await page.locator("#test-result").textContent()) ?? "";
    assert.match(plan, /User created \(1\)planned\.newcomer/, "the plan names who would be created");
    await screenshot("test-run-plan");
    await host.idle();
    const stored = await host.service.suggestExclusions(host.settings.tenantId, silentLogger);
    assert.ok(!JSON.stringify(stored).includes("Planned Newcomer"), "the dry run wrote no user");
    assert.notEqual((await host.service.listRuns(host.settings.tenantId, { limit: 1 })).runs[0]!.runId, runsBefore.runId);
  });

  test("a quarantined run's held deletions are shown, allowed after a confirmation, and applied", async () => {
    const leavers = [...host.model.users.values()].filter((user) => !user.deleted && user.userType === "Member").slice(0, 5);
    for (const user of leavers) host.model.softDeleteUser(user.id);
    await host.service.requestRun({ tenantId: host.settings.tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger);
    await host.idle();
    await signIn("admin", "#/held");
    await page.locator("#held-list tbody tr").first().waitFor();
    assert.equal(await page.locator("#held-list tbody tr").count(), 5, "every held deletion is listed");
    assert.match((await page.locator("#held-list tbody").textContent()) ?? "", /still restorable there/, "each says why");
    await screenshot("held-deletions");
    await page.locator("#allow-deletions").click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? "", /Allow 5 deletions\?/);
    await dialog.getByRole("button", { name: "Allow deletions" }).click();
    await page.waitForURL(/#\/overview$/);
    await host.idle();
    await page.reload();
    await page.locator("#last-run", { hasText: "succeeded" }).waitFor();
    const last = (await host.service.listRuns(host.settings.tenantId, { limit: 1 })).runs[0]!;
    assert.equal(last.requestedBy, "dev-admin@console.localhost");
    assert.equal(last.users.softDeleted, 5, "the held soft deletions were applied");
    await page.getByRole("link", { name: "Held deletions" }).click();
    await page.locator("#no-held").waitFor();
  });

  test("a failed run's detail says why it failed and what to do", async () => {
    host.standIn.faults.failNext(10_000, 503, 0);
    let runId: string;
    try {
      runId = (await host.service.requestRun({ tenantId: host.settings.tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger)).runId;
      await host.idle();
    } finally {
      host.standIn.faults.clear();
    }
    await signIn("viewer", `#/runs/${runId}`);
    const why = page.getByRole("alert").filter({ hasText: "Why it failed" });
    await why.waitFor();
    assert.match((await why.textContent()) ?? "", /503/);
    assert.match((await why.textContent()) ?? "", /Fix: Microsoft Graph was unavailable/);
    await screenshot("failed-run");
  });

  test("the changes view filters and pages", async () => {
    await signIn("viewer", "#/changes");
    await page.locator("#change-kind").selectOption("user");
    await page.locator("#change-limit").selectOption("10");
    await page.locator("#apply-filters").click();
    await page.locator("#changes-results caption", { hasText: "page 1" }).waitFor();
    assert.equal(await page.locator("#changes-results tbody tr").count(), 10);
    const objects = () => page.locator("#changes-results tbody td:nth-child(3)").allTextContents();
    const firstPage = await objects();
    assert.doesNotMatch((await page.locator("#changes-results tbody").textContent()) ?? "", /membership/);
    await page.locator("#next-page").click();
    await page.locator("#changes-results caption", { hasText: "page 2" }).waitFor();
    assert.notDeepEqual(await objects(), firstPage);
    await page.locator("#previous-page").click();
    await page.locator("#changes-results caption", { hasText: "page 1" }).waitFor();
    assert.deepEqual(await objects(), firstPage);
    await screenshot("changes");
  });

  test("keyboard only: every view and every action is reachable with Tab, a dialog keeps and returns focus", async () => {
    await signIn("admin");
    await page.locator("#sync-now").waitFor();
    const overviewStops = await tabStops();
    for (const stop of ["Skip to content", "Overview", "Runs", "Changes", "Held deletions", "Test run", "Connection check", "Scope and filters", "Sign out", "sync-now", "full-resync", "test-run"]) assert.ok(overviewStops.includes(stop), `${stop} in ${overviewStops.join(" | ")}`);
    // Full resync asks first; Escape cancels and focus goes back to the button.
    await page.locator("#full-resync").focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    assert.equal(await page.evaluate<string>("document.activeElement && document.activeElement.textContent"), "Cancel");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    assert.equal(await page.evaluate<string>("document.activeElement && document.activeElement.id"), "full-resync");
    const expected: Record<string, string[]> = { "#/test": ["start-test-run"], "#/check": ["run-check"], "#/changes": ["change-kind", "change-since", "change-until", "change-limit", "apply-filters"], "#/runs": [] };
    for (const [hash, actions] of Object.entries(expected)) {
      // Moving between views by keyboard: the nav link is focused and Enter follows it.
      await page.locator(`#nav a[href="${hash}"]`).focus();
      await page.keyboard.press("Enter");
      await page.waitForURL(new RegExp(`${hash.replace("/", "\\/")}$`));
      // Focus moves to the new view's title once it is drawn.
      await eventually(async () => (await page.evaluate<string>("document.activeElement && document.activeElement.id")) === "view-title", `${hash}: focus on the view's title`);
      const stops = await tabStops();
      for (const action of actions) assert.ok(stops.includes(action), `${hash}: ${action} in ${stops.join(" | ")}`);
    }
    await page.locator("#nav a[href='#/check']").focus();
    await page.keyboard.press("Enter");
    await page.locator("#run-check").focus();
    await page.keyboard.press("Enter");
    await page.locator("#check-results .checks").waitFor({ timeout: 30_000 });
    await screenshot("connection-check");
  });

  test("a laptop split screen (640 px wide) keeps every view in one column with no sideways scrolling", async () => {
    await page.setViewportSize({ width: 640, height: 860 });
    try {
      for (const hash of ["#/overview", "#/runs", "#/scope"]) {
        await signIn("viewer", hash);
        await page.waitForTimeout(300);
        const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assert.ok(overflow <= 0, `${hash} scrolls sideways by ${overflow} px`);
      }
      await screenshot("split-screen-scope");
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });
});
