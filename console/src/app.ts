// Starts the console: finds out who is signed in, draws the navigation, and switches views on the URL's hash.
import { api, ApiFailure } from "./api.js";
import { announce, h, replaceChildren } from "./dom.js";
import { changes, check, held, overview, runDetail, runs, scope, testRun, type Me, type View, type ViewContext } from "./views.js";

const routes: Array<{ hash: string; label: string; view: View }> = [
  { hash: "#/overview", label: "Overview", view: overview },
  { hash: "#/runs", label: "Runs", view: runs },
  { hash: "#/changes", label: "Changes", view: changes },
  { hash: "#/held", label: "Held deletions", view: held },
  { hash: "#/test", label: "Test run", view: testRun },
  { hash: "#/check", label: "Connection check", view: check },
  { hash: "#/scope", label: "Scope and filters", view: scope },
];

let stopView: (() => void) | void;
/** The first view after loading leaves focus at the top of the page, so Tab starts at the skip link; later views take focus. */
let firstView = true;

async function show(context: ViewContext, main: HTMLElement, nav: HTMLElement): Promise<void> {
  stopView?.();
  stopView = undefined;
  const match = /^(#\/[a-z]+)(?:\/(.+))?$/.exec(window.location.hash || "#/overview");
  const path = match?.[1] ?? "#/overview";
  const argument = match?.[2] === undefined ? undefined : decodeURIComponent(match[2]);
  const route = routes.find((candidate) => candidate.hash === path) ?? routes[0]!;
  const view = path === "#/runs" && argument ? runDetail : route.view;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === route.hash) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${route.label} — entra-table-sync console`;
  stopView = await view(main, context, argument);
  // Focus moves to the new view's title, so screen-reader and keyboard users start reading where the content changed.
  if (!firstView) document.getElementById("view-title")?.focus();
  firstView = false;
}

async function start(): Promise<void> {
  const main = document.getElementById("main")!;
  const nav = document.getElementById("nav")!;
  const who = document.getElementById("who")!;
  let me: Me;
  try {
    me = await api.get<Me>("/me");
  } catch (error) {
    replaceChildren(main, h("h1", {}, "Cannot open the console"), h("p", { class: "error", role: "alert" }, error instanceof ApiFailure ? error.message : String(error)));
    return;
  }
  replaceChildren(
    who,
    h("span", {}, me.name || "signed in"),
    " ",
    h("span", { class: "badge", id: "role" }, me.canAct ? "admin" : me.canView ? "viewer" : "no role"),
    me.developmentSignIn ? h("span", { class: "badge dev" }, "development sign-in") : null,
    " ",
    h("a", { href: me.signOutUrl }, "Sign out"),
  );
  replaceChildren(nav, h("ul", {}, ...routes.map((route) => h("li", {}, h("a", { href: route.hash }, route.label)))));
  if (!me.canView) {
    replaceChildren(main, h("h1", {}, "No console role"), h("p", { role: "alert" }, `${me.name} is signed in but has neither the Sync.Viewer nor the Sync.Admin role; ask an administrator to assign one on the sign-in app's enterprise application.`));
    return;
  }
  const context: ViewContext = {
    me,
    tenantId: undefined,
    navigate: (hash) => {
      if (window.location.hash === hash) void show(context, main, nav);
      else window.location.hash = hash;
    },
  };
  // With several tenants every view but the overview needs one named, so the header offers a choice.
  const status = await api.get<{ tenants: Array<{ tenantId: string }> }>("/status").catch(() => ({ tenants: [] }));
  if (status.tenants.length > 1) {
    context.tenantId = status.tenants[0]!.tenantId;
    const picker = h("select", { id: "tenant", onchange: (event: Event) => ((context.tenantId = (event.target as HTMLSelectElement).value), void show(context, main, nav)) }, ...status.tenants.map((tenant) => h("option", { value: tenant.tenantId }, tenant.tenantId)));
    who.prepend(h("label", { for: "tenant", class: "tenant-picker" }, "Tenant ", picker));
  }
  window.addEventListener("hashchange", () => void show(context, main, nav));
  await show(context, main, nav);
  announce(`Signed in as ${me.name}, ${me.canAct ? "admin" : "viewer"}`);
}

void start();
