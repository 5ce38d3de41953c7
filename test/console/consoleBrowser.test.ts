// The console in a real browser (Debian's chromium driven by playwright-core) against the local host: what a viewer and an admin see and can do.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startConsoleHost, type ConsoleHost, type DevelopmentRole } from "../../src/cli/consoleHost";
import { silentLogger } from "../../src/logging/logger";
import { openServiceTables } from "../../src/service/serviceStorage";
import { SubscriptionRecords } from "../../src/service/subscriptionRecords";

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
  host = await startConsoleHost({ port: 0, users: 30, groups: 6, initialSync: true, graphLatencyMs: 20, retryDelayMs: 50, settings: { DELETION_THRESHOLD_COUNT: "3", DELETION_THRESHOLD_PERCENT: "0", SYNC_CHANGE_NOTIFICATIONS: "true", CHANGE_NOTIFICATION_URL: "https://console.localhost/api/notifications" }, logger: silentLogger });
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

/** The focused element as tabStops names it: its id, else its text; "" when focus is outside the document. */
async function focusedStop(): Promise<string> {
  return await page.evaluate<string>("(() => { const e = document.activeElement; return e && e !== document.body ? e.id || (e.textContent || '').trim() || e.tagName : ''; })()");
}

/** Presses Tab until focus is on the named stop, as a keyboard user would reach it; fails when it never comes. */
async function tabTo(stop: string, limit = 80): Promise<void> {
  const passed: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const now = await focusedStop();
    if (now === stop) return;
    passed.push(now);
  }
  assert.fail(`Tab never reached ${stop}; passed ${passed.join(" | ")}`);
}

/** Waits until the view's title holds focus, which the console gives it once a view is drawn. */
async function focusOnTitle(what: string): Promise<void> {
  await eventually(async () => (await page.evaluate<string>("document.activeElement && document.activeElement.id")) === "view-title", `${what}: focus on the view's title`);
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

  test("the overview shows each change-notification subscription with its id and expiry, and warns of a missing or expired one", async () => {
    // The local host runs no upkeep timer (Graph could not reach its http webhook), so the test stores what the upkeep would.
    const records = new SubscriptionRecords(openServiceTables(host.settings).syncState);
    const now = Date.now();
    const subscriptionId = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
    const stored = await records.claim({ tenantId: host.settings.tenantId, resource: "users", subscriptionId, clientState: "browser-test-client-state", state: "active", expiresAt: new Date(now + 20 * 86_400_000).toISOString(), createdAt: new Date(now).toISOString(), renewedAt: new Date(now).toISOString() }, undefined);
    assert.ok(stored, "the users subscription was stored");
    await records.writeUpkeep(host.settings.tenantId, { enabled: true, groupsSubscribed: false, groupsReason: "Group.Read.All is not granted.", lastUpkeepAt: new Date(now).toISOString(), lastError: undefined });
    try {
      await signIn("viewer");
      const panel = page.getByRole("region", { name: "Change notifications" });
      await panel.waitFor();
      const users = panel.getByRole("row", { name: /^users/ });
      assert.match((await users.textContent()) ?? "", new RegExp(`${subscriptionId}.*in 20 days.*OK$`));
      assert.match((await panel.getByRole("row", { name: /^groups/ }).textContent()) ?? "", /none.*Warning: No groups subscription: group changes wait for the next scheduled run/);
      assert.match((await panel.textContent()) ?? "", /Notificationson: a change starts an incremental run.*Group changeswait for the next scheduled run/);
      assert.doesNotMatch((await panel.textContent()) ?? "", /browser-test-client-state/, "the clientState is never shown");
      await records.update(stored, { expiresAt: new Date(now - 60_000).toISOString() });
      await page.reload();
      await panel.waitFor();
      assert.match((await panel.getByRole("row", { name: /^users/ }).textContent()) ?? "", /Warning: Expired/);
      await screenshot("change-notifications");
    } finally {
      const current = await records.read(host.settings.tenantId, "users");
      if (current) await records.remove(current);
    }
  });

  test("an admin presses Sync now and sees the run's progress, then its success", async () => {
    await signIn("admin");
    for (let i = 0; i < 35; i++) host.model.createUser({ displayName: `Starter ${i}`, givenName: "Starter", surname: String(i) });
    // Twice the usual latency: the groups read after the users page must outlast the page's 1 s poll, and the closure is now too quick to cover it.
    host.standIn.faults.latencyMs = 2 * graphLatencyMs;
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
    // The announcement lands 50 ms after the redraw (dom.ts announce), so it is awaited, not read at once.
    await eventually(async () => /succeeded/.test((await page.locator("#announcer").textContent()) ?? ""), "the run's success announced");
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
    // The unfiltered first page also says "page 1", so the filtered one is recognised by its ten rows.
    await eventually(async () => (await page.locator("#changes-results tbody tr").count()) === 10, "the filtered first page of 10");
    const objects = () => page.locator("#changes-results tbody td:nth-child(3)").allTextContents();
    const firstPage = await objects();
    assert.doesNotMatch((await page.locator("#changes-results tbody").textContent()) ?? "", /membership/);
    await page.locator("#next-page").click();
    await page.locator("#changes-results caption", { hasText: "page 2" }).waitFor();
    assert.equal(await focusedStop(), "next-page", "the pager keeps focus on the button pressed, so Enter pages on");
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

  test("keyboard only: a run's detail, Allow deletions through its dialog, a running run's detail and the scope view", async () => {
    const leavers = [...host.model.users.values()].filter((user) => !user.deleted && user.userType === "Member").slice(0, 4);
    for (const user of leavers) host.model.softDeleteUser(user.id);
    const quarantined = (await host.service.requestRun({ tenantId: host.settings.tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger)).runId;
    await host.idle();
    await signIn("admin");
    // The runs list, then the quarantined run's detail, then its held deletions: each reached with Tab and followed with Enter.
    await tabTo("Runs");
    await page.keyboard.press("Enter");
    await focusOnTitle("#/runs");
    await page.locator("#runs-table table").waitFor();
    await tabTo(quarantined);
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`#/runs/${quarantined}$`));
    await focusOnTitle("run detail");
    assert.equal(await page.locator("#view-title").textContent(), `Run ${quarantined}`);
    for (const stop of ["← All runs", "Review and allow them", "Show the change events of this run"]) await tabTo(stop);
    await page.locator("#view-title").focus();
    await tabTo("Review and allow them");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/held$/);
    await focusOnTitle("#/held");
    await tabTo("allow-deletions");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Allow 4 deletions?" });
    await dialog.waitFor();
    assert.match((await dialog.getAttribute("aria-describedby")) ?? "", /confirm-body/);
    assert.equal(await focusedStop(), "Cancel", "the dialog starts on its harmless choice");
    // Tab and Shift+Tab stay in the dialog: nothing behind it takes focus while it is open.
    const dialogStops = new Set<string>();
    for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
      await page.keyboard.press(key);
      const inside = await page.evaluate<boolean>("(() => { const e = document.activeElement; return !!e && (e === document.body || !!e.closest('dialog')); })()");
      assert.ok(inside, `${key} left the dialog for ${await focusedStop()}`);
      dialogStops.add(await focusedStop());
    }
    assert.ok(dialogStops.has("Allow deletions") && dialogStops.has("Cancel"), `dialog stops: ${[...dialogStops].join(" | ")}`);
    await tabTo("Allow deletions", 6);
    host.standIn.faults.latencyMs = graphLatencyMs;
    try {
      await page.keyboard.press("Enter");
      await page.waitForURL(/#\/overview$/);
      await focusOnTitle("#/overview after allowing");
      await eventually(async () => /Run \S+ queued/.test((await page.locator("#announcer").textContent()) ?? ""), "the queued run announced");
      const allowed = /Run (\S+) queued/.exec((await page.locator("#announcer").textContent()) ?? "")![1]!;
      // The run in progress is reachable from the overview, and its detail keeps focus where it was while it redraws every second.
      await page.locator(".active-run").waitFor();
      await tabTo(allowed);
      await page.keyboard.press("Enter");
      await focusOnTitle("running run's detail");
      await tabTo("← All runs");
      await page.waitForTimeout(2500);
      assert.equal(await focusedStop(), "← All runs", "focus stays on the link through the detail's redraws");
    } finally {
      host.standIn.faults.latencyMs = 0;
    }
    await host.idle();
    const last = (await host.service.listRuns(host.settings.tenantId, { limit: 1 })).runs[0]!;
    assert.equal(last.requestedBy, "dev-admin@console.localhost");
    assert.equal(last.users.softDeleted, 4, "the deletions allowed by keyboard were applied");
    // The scope view by keyboard: its title takes focus and Tab moves on from it to the page's controls, never trapped.
    await tabTo("Scope and filters");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/scope$/);
    await focusOnTitle("#/scope");
    assert.ok(await page.getByRole("region", { name: "Who is synced" }).isVisible());
    const scopeStops = await tabStops();
    for (const stop of ["Skip to content", "Scope and filters", "Sign out"]) assert.ok(scopeStops.includes(stop), `${stop} in ${scopeStops.join(" | ")}`);
  });

  test("a laptop split screen (640 px wide) keeps every view in one column with no sideways scrolling and its controls in view", async () => {
    // Held deletions to list, so the held view is measured with its table and button, not its empty state.
    const leavers = [...host.model.users.values()].filter((user) => !user.deleted && user.userType === "Member").slice(0, 4);
    for (const user of leavers) host.model.softDeleteUser(user.id);
    const quarantined = (await host.service.requestRun({ tenantId: host.settings.tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger)).runId;
    await host.idle();
    const navigation = ["Overview", "Runs", "Changes", "Held deletions", "Test run", "Connection check", "Scope and filters"].map((name) => page.getByRole("link", { name, exact: true }));
    /** Each view, the controls a user needs on it, and what to press first to draw its results (a test run's plan, the check's list). */
    const views: Array<{ name: string; hash: string; controls: string[]; press?: string; drawn?: string }> = [
      { name: "overview", hash: "#/overview", controls: ["#sync-now", "#full-resync", "#test-run"], drawn: ".notifications table" },
      { name: "runs", hash: "#/runs", controls: ["#previous-page", "#next-page", `#runs-table a[href="#/runs/${quarantined}"]`] },
      { name: "run-detail", hash: `#/runs/${quarantined}`, controls: ['a[href="#/runs"]', 'a[href="#/held"]', `a[href="#/changes/${quarantined}"]`] },
      { name: "changes", hash: "#/changes", controls: ["#change-kind", "#change-since", "#change-until", "#change-limit", "#apply-filters", "#next-page"], drawn: "#changes-results table" },
      { name: "held", hash: "#/held", controls: ["#held-list", "#allow-deletions"] },
      { name: "test", hash: "#/test", controls: ["#start-test-run"], press: "#start-test-run", drawn: "#would-quarantine" },
      { name: "check", hash: "#/check", controls: ["#run-check"], press: "#run-check", drawn: "#check-results .checks" },
      { name: "scope", hash: "#/scope", controls: ["table.settings", "#suggestions-title"] },
    ];
    await page.setViewportSize({ width: 640, height: 860 });
    try {
      for (const view of views) {
        await signIn("admin", view.hash);
        if (view.press) await page.locator(view.press).click();
        if (view.drawn) await page.locator(view.drawn).first().waitFor({ timeout: 30_000 });
        await page.waitForTimeout(200);
        const shown = view.name === "test" ? ((await page.locator("main").textContent()) ?? "") : "";
        if (/Would be quarantined/.test(shown)) assert.doesNotMatch(shown, /Nothing would change/, "a test run that would hold deletions does not also say nothing would change");
        const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assert.ok(overflow <= 0, `${view.hash} scrolls sideways by ${overflow} px`);
        for (const link of navigation) assert.ok(await link.isVisible(), `${view.hash}: the navigation is shown`);
        // The links sit in a band as tall as they need; a short view must not stretch it and push the title down.
        const gap = await page.evaluate<number>("document.getElementById('nav').getBoundingClientRect().height - document.querySelector('#nav ul').getBoundingClientRect().height");
        assert.ok(gap <= 24, `${view.hash}: the navigation band has ${gap} px of empty space`);
        // The one-column tables hide their header row, so every data cell must say which column it is.
        const unlabelled = await page.evaluate<number>("document.querySelectorAll('main tbody td:not([data-label])').length");
        assert.equal(unlabelled, 0, `${view.hash}: table cells without their column's name`);
        for (const selector of view.controls) {
          const control = page.locator(selector).first();
          assert.ok(await control.isVisible(), `${view.hash}: ${selector} is shown`);
          const box = (await control.boundingBox())!;
          assert.ok(box.x >= 0 && box.x + box.width <= 640, `${view.hash}: ${selector} lies within the 640 px window (${box.x}..${box.x + box.width})`);
        }
        await screenshot(`split-screen-${view.name}`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  // Last, because it installs a fake clock in the shared browser context.
  test("a dialog gives focus back to its button after the overview redrew behind it", async () => {
    await page.clock.install();
    await signIn("admin");
    await page.locator("#full-resync").focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    const before = await page.locator("#full-resync").elementHandle();
    // The overview polls every 15 s; moving the clock on redraws it while the dialog stays open.
    await page.clock.runFor(16_000);
    await eventually(async () => (await page.locator("#full-resync").elementHandle().then((now) => now?.evaluate<boolean, unknown>((element, old) => element !== old, before))) === true, "the overview redrawn");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    assert.equal(await focusedStop(), "full-resync", "focus is back on Full resync, not lost to the page");
  });
});
