// The console's views: each renders into the main region from the console API and returns how to stop its polling.
import { api, ApiFailure, query } from "./api.js";
import { announce, confirmAction, facts, h, redraw, replaceChildren } from "./dom.js";
import { counts, dateTime, duration, words } from "./format.js";
import { notificationsPanel, type ChangeNotificationStatus } from "./notifications.js";
import { renderPlan } from "./plan.js";

export interface Me {
  name: string;
  roles: string[];
  canView: boolean;
  canAct: boolean;
  signOutUrl: string;
  developmentSignIn: boolean;
}

export interface ViewContext {
  me: Me;
  tenantId: string | undefined;
  /** Moves to another view, as a link would. */
  navigate(hash: string): void;
}

export type View = (main: HTMLElement, context: ViewContext, argument?: string) => Promise<(() => void) | void>;

interface ActiveRun {
  runId: string;
  state: string;
  expired: boolean;
  mode: string | null;
  dryRun: boolean | null;
  requestedBy: string | null;
  progress: { streams: Record<string, { pages: number; objects: number }>; updatedAt: string } | null;
}

interface RunOutline {
  runId: string;
  status: string;
  trigger: string;
  requestedBy?: string;
  mode: string;
  dryRun: boolean;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  users: Parameters<typeof counts>[0];
  groups: Parameters<typeof counts>[0];
  memberships: { added: number; removed: number };
  warningCount: number;
  error?: string;
}

interface TenantStatus {
  tenantId: string;
  lastSuccessfulSyncAt: string | null;
  lastSuccessfulRunId: string | null;
  lastRun: RunOutline | null;
  activeRun: ActiveRun | null;
  nextScheduledRunAt: string | null;
  credential: { mode?: string; secret?: { state: string; message: string; expiresOn?: string | null } } | null;
  changeNotifications?: ChangeNotificationStatus;
  warnings: string[];
}

interface SyncStatus {
  generatedAt: string;
  schedule: { expression: string; nextRunAt: string | null };
  tenants: TenantStatus[];
}

interface RunView {
  runId: string;
  tenantId: string;
  status: string;
  request: { trigger: string; requestedBy?: string; mode: string; dryRun: boolean; allowDeletions: boolean; requestedAt: string; attempts: number; failure?: string; lastError?: string; progress?: ActiveRun["progress"] } | null;
  summary: (RunOutline & { warnings: string[]; heldDeletions?: { count: number; sample: string[] }; plan?: unknown; scope?: Record<string, number> }) | null;
}

interface RequestAnswer {
  runId: string;
  status: string;
  alreadyRunning: boolean;
  message?: string;
}

const terminal = new Set(["succeeded", "failed", "quarantined"]);

function heading(text: string): HTMLHeadingElement {
  return h("h1", { tabindex: -1, id: "view-title" }, text);
}

function failureNote(error: unknown): HTMLElement {
  const message = error instanceof ApiFailure ? error.message : `Could not reach the console API: ${(error as Error).message}`;
  return h("p", { class: "error", role: "alert" }, message);
}

function statusBadge(status: string): HTMLElement {
  return h("span", { class: `badge status-${status}` }, status);
}

function runLink(runId: string): HTMLAnchorElement {
  return h("a", { href: `#/runs/${runId}` }, runId);
}

/** Queues a run through the console API and says what happened; resolves with the run id, or undefined when it was refused. */
async function requestRun(context: ViewContext, body: { mode?: "incremental" | "full"; dryRun?: boolean; allowDeletions?: boolean }): Promise<string | undefined> {
  try {
    const answer = await api.post<RequestAnswer>("/sync", { ...body, ...(context.tenantId ? { tenantId: context.tenantId } : {}) });
    announce(answer.alreadyRunning ? (answer.message ?? `Run ${answer.runId} is already active`) : `Run ${answer.runId} queued`);
    return answer.runId;
  } catch (error) {
    announce(error instanceof ApiFailure ? error.message : "The request failed");
    throw error;
  }
}

/** The action buttons an admin sees; a viewer sees why they are missing. */
function actionBar(context: ViewContext, onQueued: () => void, busy: boolean): HTMLElement {
  if (!context.me.canAct) return h("p", { class: "muted", id: "no-actions" }, "You can view this console; requesting runs and allowing deletions needs the Sync.Admin role.");
  const run = (body: Parameters<typeof requestRun>[1]) => async () => {
    await requestRun(context, body).catch(() => undefined);
    onQueued();
  };
  const fullResync = async () => {
    const confirmed = await confirmAction({
      title: "Full resync?",
      body: [h("p", {}, "Reads every user and group again and marks what is no longer in Entra as deleted. It takes longer than an incremental run; deletions still go through the threshold.")],
      confirmLabel: "Start full resync",
    });
    if (confirmed) await run({ mode: "full" })();
  };
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": "Run actions" },
    h("button", { type: "button", class: "primary", id: "sync-now", onclick: run({ mode: "incremental" }), disabled: busy }, "Sync now"),
    h("button", { type: "button", class: "secondary", id: "full-resync", onclick: fullResync, disabled: busy }, "Full resync"),
    h("button", { type: "button", class: "secondary", id: "test-run", onclick: () => context.navigate("#/test"), disabled: busy }, "Test run…"),
  );
}

function progressPanel(active: ActiveRun): HTMLElement {
  const streams = Object.entries(active.progress?.streams ?? {});
  return h(
    "section",
    { class: "panel active-run", "aria-labelledby": "active-title" },
    h("h2", { id: "active-title" }, "Run in progress"),
    facts([
      ["Run", runLink(active.runId)],
      ["State", statusBadge(active.expired ? "stalled" : active.state)],
      ["Kind", `${active.mode ?? "—"}${active.dryRun ? " (test run)" : ""}`],
      ["Requested by", active.requestedBy ?? "—"],
    ]),
    h("progress", { "aria-label": "Run progress" }),
    h(
      "p",
      { id: "progress-text" },
      streams.length === 0 ? (active.state === "queued" ? "Waiting for a worker to pick the run up…" : "Starting…") : streams.map(([stream, value]) => `${stream}: ${value.pages} pages, ${value.objects} objects read`).join("; "),
    ),
  );
}

function credentialPanel(credential: TenantStatus["credential"], tenantId: string): HTMLElement | null {
  if (!credential) return null;
  const secret = credential.secret;
  const healthy = !secret || secret.state === "valid" || secret.state === "noExpiry";
  return h(
    "section",
    { class: `panel ${healthy ? "" : "banner-warn"}`, "aria-labelledby": `credential-${tenantId}`, ...(healthy ? {} : { role: "alert" }) },
    h("h2", { id: `credential-${tenantId}` }, "Credential"),
    facts([
      ["Mode", credential.mode ?? "—"],
      ["Secret", secret ? `${secret.state}${secret.expiresOn ? `, expires ${dateTime(secret.expiresOn)}` : ""}` : "none (no secret to renew)"],
    ]),
    secret && !healthy ? h("p", {}, secret.message) : null,
  );
}

export const overview: View = async (main, context) => {
  let timer: number | undefined;
  let stopped = false;
  let lastActive: string | undefined;
  const render = async () => {
    let status: SyncStatus;
    try {
      status = await api.get<SyncStatus>(`/status${query({ tenantId: context.tenantId })}`);
    } catch (error) {
      replaceChildren(main, heading("Overview"), failureNote(error));
      return;
    }
    if (stopped) return;
    const tenants = status.tenants.map((tenant) => {
      const active = tenant.activeRun && !terminal.has(tenant.activeRun.state) ? tenant.activeRun : null;
      const last = tenant.lastRun;
      return h(
        "section",
        { class: "tenant", "aria-label": `Tenant ${tenant.tenantId}` },
        status.tenants.length > 1 ? h("h2", {}, `Tenant ${tenant.tenantId}`) : null,
        actionBar(context, () => void render(), active !== null),
        active ? progressPanel(active) : null,
        h(
          "section",
          { class: "panel", "aria-labelledby": `summary-${tenant.tenantId}` },
          h("h2", { id: `summary-${tenant.tenantId}` }, "Sync"),
          facts([
            ["Last successful sync", tenant.lastSuccessfulRunId ? h("span", {}, dateTime(tenant.lastSuccessfulSyncAt), " — ", runLink(tenant.lastSuccessfulRunId)) : "never"],
            ["Last run", last ? h("span", { id: "last-run" }, statusBadge(last.status), " ", runLink(last.runId), ` ${last.mode}${last.dryRun ? " test run" : ""}, ${duration(last.durationMs)}`) : "none yet"],
            ["Users", last ? counts(last.users) : "—"],
            ["Groups", last ? counts(last.groups) : "—"],
            ["Next scheduled run", `${dateTime(tenant.nextScheduledRunAt)} (schedule ${status.schedule.expression})`],
          ]),
          last?.error ? h("p", { class: "error" }, `Last run failed: ${last.error}`) : null,
        ),
        credentialPanel(tenant.credential, tenant.tenantId),
        notificationsPanel(tenant.changeNotifications, { tenantId: tenant.tenantId, generatedAt: status.generatedAt }),
        h(
          "section",
          { class: "panel", "aria-labelledby": `warnings-${tenant.tenantId}` },
          h("h2", { id: `warnings-${tenant.tenantId}` }, `Warnings (${tenant.warnings.length})`),
          tenant.warnings.length === 0 ? h("p", { class: "muted" }, "None.") : h("ul", { class: "warnings" }, ...tenant.warnings.map((warning) => h("li", {}, warning))),
        ),
      );
    });
    redraw(main, heading("Overview"), ...tenants);
    const activeNow = status.tenants.find((tenant) => tenant.activeRun && !terminal.has(tenant.activeRun.state))?.activeRun;
    if (lastActive && !activeNow) {
      const finished = status.tenants.find((tenant) => tenant.lastRun?.runId === lastActive)?.lastRun;
      announce(finished ? `Run ${finished.runId} ${finished.status}` : "The run ended");
    }
    lastActive = activeNow?.runId;
    // Poll quickly while a run moves, slowly otherwise.
    timer = window.setTimeout(() => void render(), activeNow ? 1000 : 15_000);
  };
  await render();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
};

interface RunPage {
  runs: RunOutline[];
  nextCursor: string | null;
}

export const runs: View = async (main, context) => {
  const cursors: Array<string | undefined> = [undefined];
  const table = h("div", { id: "runs-table" });
  const render = async () => {
    const cursor = cursors[cursors.length - 1];
    let page: RunPage;
    try {
      page = await api.get<RunPage>(`/runs${query({ tenantId: context.tenantId, cursor, limit: 20 })}`);
    } catch (error) {
      replaceChildren(table, failureNote(error));
      return;
    }
    redraw(
      table,
      page.runs.length === 0
        ? h("p", {}, "No runs yet.")
        : h(
            "table",
            {},
            h("caption", {}, `Runs, newest first (page ${cursors.length})`),
            h("thead", {}, h("tr", {}, ...["Run", "Status", "Trigger", "Requested by", "Mode", "Started", "Duration", "Users", "Groups", "Memberships"].map((label) => h("th", { scope: "col" }, label)))),
            h(
              "tbody",
              {},
              ...page.runs.map((run) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, runLink(run.runId)),
                  h("td", {}, statusBadge(run.status), run.warningCount > 0 ? ` ${run.warningCount} warnings` : ""),
                  h("td", {}, run.trigger),
                  h("td", {}, run.requestedBy ?? "—"),
                  h("td", {}, `${run.mode}${run.dryRun ? " (test)" : ""}`),
                  h("td", {}, dateTime(run.startedAt)),
                  h("td", {}, duration(run.durationMs)),
                  h("td", {}, counts(run.users)),
                  h("td", {}, counts(run.groups)),
                  h("td", {}, `+${run.memberships.added} −${run.memberships.removed}`),
                ),
              ),
            ),
          ),
      pager(cursors.length > 1, page.nextCursor !== null, () => {
        cursors.pop();
        void render();
      }, () => {
        cursors.push(page.nextCursor ?? undefined);
        void render();
      }),
    );
  };
  replaceChildren(main, heading("Runs"), h("p", {}, "The import log: every run, what started it and what it changed. Open a run for its detail."), table);
  await render();
};

function pager(hasPrevious: boolean, hasNext: boolean, previous: () => void, next: () => void): HTMLElement {
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "secondary", id: "previous-page", disabled: !hasPrevious, onclick: previous }, "Previous page"),
    h("button", { type: "button", class: "secondary", id: "next-page", disabled: !hasNext, onclick: next }, "Next page"),
  );
}

/** The fix for the failures a run records most often; the message itself names the specifics. */
function fixFor(error: string): string | undefined {
  if (/Authorization_RequestDenied|Insufficient privileges|\b403\b/i.test(error)) return "Grant the app the Graph application permissions in docs/permissions.md (User.Read.All, GroupMember.Read.All), with admin consent, then run the connection check.";
  if (/AADSTS7000215|AADSTS7000222|client secret|secret .*expired/i.test(error)) return "The client secret is wrong or expired: renew it in Key Vault (the credential panel on the overview gives the command).";
  if (/AADSTS|CredentialUnavailable|AuthenticationRequired|invalid_client/i.test(error)) return "Signing in to Microsoft Entra failed: run the connection check, which names the setting to correct.";
  if (/\b(429|500|502|503|504)\b|unavailable|throttl/i.test(error)) return "Microsoft Graph was unavailable or throttled through every retry. Nothing is lost: the next run (Sync now, or the schedule) continues from the last checkpoint. If it keeps failing, check the Microsoft 365 service health and the function's log.";
  if (/TableStorage|RestError|ECONNREFUSED|ENOTFOUND/i.test(error)) return "Table Storage could not be reached: check DirectoryStorage__tableServiceUri and the app's Storage Table Data Contributor role.";
  if (/Abandoned|poison|crashed|timed out/i.test(error)) return "The worker stopped repeatedly: the function's log has each attempt; the next run continues from the last checkpoint.";
  return undefined;
}

export const runDetail: View = async (main, context, runId) => {
  replaceChildren(main, heading(`Run ${runId ?? ""}`), h("p", {}, "Loading…"));
  let timer: number | undefined;
  let stopped = false;
  const render = async () => {
    let run: RunView;
    try {
      run = await api.get<RunView>(`/runs/${encodeURIComponent(runId ?? "")}${query({ tenantId: context.tenantId })}`);
    } catch (error) {
      replaceChildren(main, heading(`Run ${runId ?? ""}`), failureNote(error));
      return;
    }
    if (stopped) return;
    const summary = run.summary;
    const failure = summary?.error ?? run.request?.failure ?? run.request?.lastError;
    const fix = failure ? fixFor(failure) : undefined;
    redraw(
      main,
      heading(`Run ${run.runId}`),
      h("p", {}, h("a", { href: "#/runs" }, "← All runs")),
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "Outline"),
        facts([
          ["Status", statusBadge(run.status)],
          ["Trigger", run.request?.trigger ?? summary?.trigger ?? "—"],
          ["Requested by", run.request?.requestedBy ?? summary?.requestedBy ?? "—"],
          ["Mode", `${summary?.mode ?? run.request?.mode ?? "—"}${(summary?.dryRun ?? run.request?.dryRun) ? " (test run: nothing written)" : ""}${run.request?.allowDeletions ? ", deletions allowed" : ""}`],
          ["Requested", dateTime(run.request?.requestedAt)],
          ["Started", dateTime(summary?.startedAt)],
          ["Ended", dateTime(summary?.endedAt)],
          ["Duration", duration(summary?.durationMs)],
          ["Users", counts(summary?.users)],
          ["Groups", counts(summary?.groups)],
          ["Memberships", summary ? `${summary.memberships.added} added, ${summary.memberships.removed} removed` : "—"],
          ["Attempts", run.request ? String(run.request.attempts) : "—"],
        ]),
      ),
      failure
        ? h("section", { class: "panel banner-error", role: "alert" }, h("h2", {}, "Why it failed"), h("p", {}, failure), fix ? h("p", {}, h("strong", {}, "Fix: "), fix) : null)
        : null,
      summary?.heldDeletions
        ? h(
            "section",
            { class: "panel banner-warn" },
            h("h2", {}, `Held deletions (${summary.heldDeletions.count})`),
            h("ul", {}, ...summary.heldDeletions.sample.map((entry) => h("li", {}, entry))),
            h("p", {}, h("a", { href: "#/held" }, "Review and allow them")),
          )
        : null,
      summary?.dryRun ? h("section", { class: "panel" }, h("h2", {}, "Plan"), renderPlan(summary.plan)) : null,
      summary && summary.warnings.length > 0 ? h("section", { class: "panel" }, h("h2", {}, `Warnings (${summary.warnings.length})`), h("ul", {}, ...summary.warnings.map((warning) => h("li", {}, warning)))) : null,
      summary ? h("section", { class: "panel" }, h("h2", {}, "Changes of this run"), h("p", {}, h("a", { href: `#/changes/${run.runId}` }, "Show the change events of this run"))) : null,
    );
    if (!terminal.has(run.status)) timer = window.setTimeout(() => void render(), 1000);
  };
  await render();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
};

interface ChangeEvent {
  runId: string;
  at: string;
  kind: string;
  objectId: string;
  groupId?: string;
  description: string;
}

export const changes: View = async (main, context, runId) => {
  const cursors: Array<string | undefined> = [undefined];
  const results = h("div", { id: "changes-results" });
  const objectType = h("select", { id: "change-kind", name: "objectType" }, h("option", { value: "" }, "Everything"), ...["user", "group", "membership", "device"].map((kind) => h("option", { value: kind }, `${kind}s`)));
  const since = h("input", { type: "datetime-local", id: "change-since", name: "since" });
  const until = h("input", { type: "datetime-local", id: "change-until", name: "until" });
  const pageSize = h("select", { id: "change-limit", name: "limit" }, ...[10, 25, 50, 100].map((size) => h("option", { value: size, selected: size === 25 }, String(size))));
  const toIso = (value: string) => (value ? new Date(`${value}:00Z`).toISOString() : undefined);
  let latest = 0;
  const render = async () => {
    // Only the newest request may draw: an older page arriving late must not replace the filters just applied.
    const request = ++latest;
    let page: { events: ChangeEvent[]; nextCursor: string | null };
    try {
      page = await api.get(`/changes${query({ tenantId: context.tenantId, objectType: objectType.value || undefined, since: toIso(since.value), until: toIso(until.value), runId, cursor: cursors[cursors.length - 1], limit: pageSize.value })}`);
    } catch (error) {
      if (request === latest) replaceChildren(results, failureNote(error));
      return;
    }
    if (request !== latest) return;
    redraw(
      results,
      page.events.length === 0
        ? h("p", {}, "No changes match.")
        : h(
            "table",
            {},
            h("caption", {}, `Changes, oldest first (page ${cursors.length})`),
            h("thead", {}, h("tr", {}, ...["When", "What", "Object", "Group", "Run"].map((label) => h("th", { scope: "col" }, label)))),
            h("tbody", {}, ...page.events.map((event) => h("tr", {}, h("td", {}, dateTime(event.at)), h("td", {}, words(event.kind)), h("td", {}, event.description || event.objectId), h("td", {}, event.groupId ?? "—"), h("td", {}, runLink(event.runId))))),
          ),
      pager(cursors.length > 1, page.nextCursor !== null, () => {
        cursors.pop();
        void render();
      }, () => {
        cursors.push(page.nextCursor ?? undefined);
        void render();
      }),
    );
    announce(`${page.events.length} changes shown, page ${cursors.length}`);
  };
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Filter changes",
      onsubmit: (event: Event) => {
        event.preventDefault();
        cursors.splice(0, cursors.length, undefined);
        void render();
      },
    },
    h("label", { for: "change-kind" }, "Kind", objectType),
    h("label", { for: "change-since" }, "From (UTC)", since),
    h("label", { for: "change-until" }, "Until (UTC)", until),
    h("label", { for: "change-limit" }, "Per page", pageSize),
    h("button", { type: "submit", class: "secondary", id: "apply-filters" }, "Apply filters"),
  );
  replaceChildren(main, heading(runId ? `Changes of run ${runId}` : "Changes"), h("p", {}, "The change feed: each user, group and membership change a run wrote."), form, results);
  await render();
};

interface HeldDeletionList {
  tenantId: string;
  count: number;
  deletions: Array<{ userId: string; name: string; reason: string; why: string; heldAt: string }>;
}

export const held: View = async (main, context) => {
  replaceChildren(main, heading("Held deletions"), h("p", {}, "Loading…"));
  let status: SyncStatus;
  try {
    status = await api.get<SyncStatus>(`/status${query({ tenantId: context.tenantId })}`);
  } catch (error) {
    replaceChildren(main, heading("Held deletions"), failureNote(error));
    return;
  }
  const sections = await Promise.all(
    status.tenants.map(async (tenant) => {
      const list = await api.get<HeldDeletionList>(`/held${query({ tenantId: tenant.tenantId })}`);
      if (list.count === 0) return h("section", { class: "panel" }, h("p", { id: "no-held" }, "No deletions are held."));
      const quarantined = tenant.lastRun?.status === "quarantined" ? tenant.lastRun : null;
      const allow = async () => {
        const confirmed = await confirmAction({
          title: `Allow ${list.count} deletions?`,
          body: [
            h("p", {}, `${list.count} user deletions passed the accidental-deletion threshold and are held. Allowing them queues a run that applies them: the users are marked deleted in the tables (and purged after DELETED_RETENTION_DAYS).`),
            h("p", {}, "Check the list first: a scope group deleted by mistake looks exactly like this."),
          ],
          confirmLabel: "Allow deletions",
          danger: true,
        });
        if (!confirmed) return announce("Nothing was changed");
        await requestRun({ ...context, tenantId: tenant.tenantId }, { allowDeletions: true }).catch(() => undefined);
        context.navigate("#/overview");
      };
      return h(
        "section",
        { class: "panel banner-warn", "aria-labelledby": `held-${tenant.tenantId}` },
        h("h2", { id: `held-${tenant.tenantId}` }, `${list.count} deletions held`, quarantined ? h("span", {}, " by run ", runLink(quarantined.runId)) : null),
        h(
          "table",
          { id: "held-list" },
          h("caption", {}, "Who would be deleted, and why"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Why"), h("th", { scope: "col" }, "Held since"))),
          h("tbody", {}, ...list.deletions.map((deletion) => h("tr", {}, h("th", { scope: "row" }, deletion.name || deletion.userId), h("td", {}, deletion.why), h("td", {}, dateTime(deletion.heldAt))))),
        ),
        context.me.canAct
          ? h("div", { class: "actions" }, h("button", { type: "button", class: "danger", id: "allow-deletions", onclick: allow }, "Allow deletions…"))
          : h("p", { class: "muted" }, "Allowing deletions needs the Sync.Admin role."),
      );
    }),
  ).catch((error: unknown) => [failureNote(error)]);
  replaceChildren(main, heading("Held deletions"), ...sections);
};

export const testRun: View = async (main, context) => {
  let timer: number | undefined;
  let stopped = false;
  const result = h("div", { id: "test-result", "aria-live": "polite" });
  const follow = async (runId: string) => {
    let run: RunView;
    try {
      run = await api.get<RunView>(`/runs/${runId}${query({ tenantId: context.tenantId })}`);
    } catch (error) {
      replaceChildren(result, failureNote(error));
      return;
    }
    if (stopped) return;
    if (!terminal.has(run.status)) {
      const streams = Object.entries(run.request?.progress?.streams ?? {});
      replaceChildren(result, h("p", {}, `Test run ${runId} ${run.status}… `, streams.map(([stream, value]) => `${stream}: ${value.pages} pages`).join(", ")), h("progress", { "aria-label": "Test run progress" }));
      timer = window.setTimeout(() => void follow(runId), 1000);
      return;
    }
    const summary = run.summary;
    replaceChildren(
      result,
      h("h2", {}, "Plan of test run ", runLink(runId)),
      summary?.error ? h("p", { class: "error" }, summary.error) : null,
      summary?.heldDeletions ? h("p", { class: "warn", id: "would-quarantine" }, `Would be quarantined: ${summary.heldDeletions.count} user deletions pass the threshold and would be held.`) : h("p", { id: "would-quarantine" }, "Would not be quarantined."),
      facts([
        ["Users", counts(summary?.users)],
        ["Groups", counts(summary?.groups)],
        ["Scope", summary?.scope ? Object.entries(summary.scope).map(([key, value]) => `${words(key)} ${value}`).join(", ") : "—"],
      ]),
      renderPlan(summary?.plan, { heldDeletions: summary?.heldDeletions?.count }),
    );
    announce(`Test run ${runId} ${run.status}; its plan is shown`);
  };
  const start = async () => {
    const runId = await requestRun(context, { dryRun: true }).catch(() => undefined);
    if (runId) await follow(runId);
  };
  replaceChildren(
    main,
    heading("Test run"),
    h("p", {}, "A test run reads the directory like a sync and writes nothing: it shows who would be created, updated, deleted, enter or leave the scope, and whether the run would be quarantined."),
    context.me.canAct ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "start-test-run", onclick: start }, "Start test run")) : h("p", { class: "muted" }, "Starting a test run needs the Sync.Admin role."),
    result,
  );
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
};

interface CheckResult {
  check: string;
  outcome: "pass" | "warn" | "fail";
  message: string;
  fix?: string;
  tenantId?: string;
}

export const check: View = async (main) => {
  const results = h("div", { id: "check-results" });
  const run = async () => {
    replaceChildren(results, h("p", {}, "Checking settings, Key Vault, sign-in, Graph permissions and reads, scope groups and Table Storage…"), h("progress", { "aria-label": "Connection check running" }));
    try {
      const report = await api.get<{ ok: boolean; results: CheckResult[] }>("/check");
      replaceChildren(
        results,
        h("p", { class: report.ok ? "ok" : "error" }, report.ok ? "Every check passed." : "Some checks failed; each says how to fix it."),
        h("ul", { class: "checks" }, ...report.results.map((result) => h("li", { class: `check-${result.outcome}` }, statusBadge(result.outcome), ` ${result.check}${result.tenantId ? ` (${result.tenantId})` : ""}: ${result.message}`, result.fix ? h("p", { class: "fix" }, h("strong", {}, "Fix: "), result.fix) : null))),
      );
      announce(report.ok ? "Connection check passed" : "Connection check found problems");
    } catch (error) {
      replaceChildren(results, failureNote(error));
    }
  };
  replaceChildren(main, heading("Connection check"), h("p", {}, "Signs in and reads as a run would, without writing anything."), h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "run-check", onclick: run }, "Run the check")), results);
};

interface ResolvedGroup {
  id: string;
  displayName: string | null;
  deleted: boolean;
}

interface ScopeView {
  limitedByGroups: boolean;
  scopeGroups: ResolvedGroup[];
  scopeGroupNamePatterns: Array<{ pattern: string; matches: ResolvedGroup[]; matchCount: number }>;
  excludeGroups: ResolvedGroup[];
  excludeGroupNamePatterns: Array<{ pattern: string; matches: ResolvedGroup[]; matchCount: number }>;
  groupKinds: string[];
  syncGuests: boolean;
  syncDisabledUsers: string;
  userExcludePatterns: string[];
  syncDevices: boolean;
  deletionThreshold: { count: number; percent: number };
  deletedRetentionDays: number;
  roleMapping: Array<{ group: ResolvedGroup; roles: string[] }>;
  settingNames: Record<string, string>;
}

interface Suggestions {
  scanned: number;
  suggestions: Array<{ id: string; userPrincipalName: string; displayName?: string; signals: string[]; pattern: string }>;
  patterns: Array<{ pattern: string; wouldExclude: number }>;
  note: string;
}

function groupName(group: ResolvedGroup): string {
  return group.displayName === null ? `${group.id} (no synced group has this id)` : `${group.displayName}${group.deleted ? " (deleted)" : ""} — ${group.id}`;
}

export const scope: View = async (main, context) => {
  replaceChildren(main, heading("Scope and filters"), h("p", {}, "Loading…"));
  let view: ScopeView;
  let suggestions: Suggestions;
  try {
    [view, suggestions] = await Promise.all([api.get<ScopeView>(`/scope${query({ tenantId: context.tenantId })}`), api.get<Suggestions>(`/scope/suggestions${query({ tenantId: context.tenantId })}`)]);
  } catch (error) {
    replaceChildren(main, heading("Scope and filters"), failureNote(error));
    return;
  }
  const setting = (key: string) => h("code", {}, view.settingNames[key] ?? key);
  const groups = (list: ResolvedGroup[]) => (list.length === 0 ? "none" : h("ul", {}, ...list.map((group) => h("li", {}, groupName(group)))));
  const patterns = (list: ScopeView["scopeGroupNamePatterns"]) =>
    list.length === 0 ? "none" : h("ul", {}, ...list.map((entry) => h("li", {}, h("code", {}, entry.pattern), ` matches ${entry.matchCount}: ${entry.matches.map((group) => group.displayName).join(", ")}${entry.matchCount > entry.matches.length ? ", …" : ""}`)));
  const usersByPattern = new Map<string, Suggestions["suggestions"]>();
  for (const suggestion of suggestions.suggestions) usersByPattern.set(suggestion.pattern, [...(usersByPattern.get(suggestion.pattern) ?? []), suggestion]);
  replaceChildren(
    main,
    heading("Scope and filters"),
    h("p", {}, "The settings in force (change them in the Function App's settings or infra parameters; the next run applies them)."),
    h(
      "section",
      { class: "panel", "aria-labelledby": "who-synced-title" },
      h("h2", { id: "who-synced-title" }, "Who is synced"),
      h(
        "table",
        { class: "settings" },
        h("caption", {}, "Scope settings"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Setting"))),
        h(
          "tbody",
          {},
          ...([
            ["Scope groups", view.limitedByGroups ? groups(view.scopeGroups) : "none: every user the filters let through", "scopeGroups"],
            ["Scope group name patterns", patterns(view.scopeGroupNamePatterns), "scopeGroupNamePatterns"],
            ["Exclusion groups", groups(view.excludeGroups), "excludeGroups"],
            ["Exclusion group name patterns", patterns(view.excludeGroupNamePatterns), "excludeGroupNamePatterns"],
            ["Group kinds", view.groupKinds.join(", "), "groupKinds"],
            ["Guests", view.syncGuests ? "synced" : "left out", "syncGuests"],
            ["Disabled accounts", view.syncDisabledUsers === "keep" ? "synced (accountEnabled false)" : "left out", "syncDisabledUsers"],
            ["Excluded address patterns", view.userExcludePatterns.length > 0 ? view.userExcludePatterns.join(", ") : "none", "userExcludePatterns"],
            ["Devices", view.syncDevices ? "synced" : "not synced", "syncDevices"],
            ["Deletion threshold", `${view.deletionThreshold.count || "no"} users or ${view.deletionThreshold.percent || "no"} %`, "deletionThreshold"],
            ["Deleted objects kept", `${view.deletedRetentionDays} days`, "deletedRetentionDays"],
            ["Role mapping", view.roleMapping.length === 0 ? "none" : h("ul", {}, ...view.roleMapping.map((entry) => h("li", {}, `${groupName(entry.group)} → ${entry.roles.join(", ")}`))), "roleMapping"],
          ] as Array<[string, Node | string, string]>).map(([label, value, key]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value), h("td", {}, setting(key)))),
        ),
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "suggestions-title" },
      h("h2", { id: "suggestions-title" }, "Exclusion suggestions"),
      h("p", {}, `${suggestions.suggestions.length} of ${suggestions.scanned} synced accounts look like service or system accounts. ${suggestions.note}`),
      suggestions.patterns.length === 0
        ? h("p", { class: "muted" }, "No suggestions.")
        : h(
            "table",
            { id: "suggestions" },
            h("caption", {}, "Suggested USER_EXCLUDE_PATTERNS entries"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Pattern"), h("th", { scope: "col" }, "Would leave out"), h("th", { scope: "col" }, "Accounts that suggested it"))),
            h(
              "tbody",
              {},
              ...suggestions.patterns.map((entry) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, h("code", {}, entry.pattern)),
                  h("td", {}, `${entry.wouldExclude} accounts`),
                  h("td", {}, h("ul", {}, ...(usersByPattern.get(entry.pattern) ?? []).map((account) => h("li", {}, `${account.userPrincipalName}: ${account.signals.join(", ")}`)))),
                ),
              ),
            ),
          ),
    ),
  );
};
