// Builds DOM nodes from plain data without innerHTML, so nothing the API returns is ever parsed as markup.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;

/** h("button", { type: "button", onclick }, "Sync now"): attributes set one by one, text as text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, ...children);
  // Children are built first, so a table arrives whole and every table gets its narrow-screen labels here.
  if (element instanceof HTMLTableElement) labelCells(element);
  return element;
}

/** Gives each data cell its column's heading as data-label, which the one-column layout shows once it hides the header row. */
function labelCells(table: HTMLTableElement): void {
  const headings = [...(table.tHead?.rows[0]?.cells ?? [])].map((cell) => (cell.textContent ?? "").trim());
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      [...row.cells].forEach((cell, index) => {
        const heading = headings[index];
        if (cell.tagName === "TD" && heading) cell.setAttribute("data-label", heading);
      });
    }
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** What identifies a focusable element across a redraw: its id, else its kind, target and text. */
function focusKey(element: Element): string {
  return element.id ? `#${element.id}` : `${element.tagName}|${element.getAttribute("href") ?? ""}|${(element.textContent ?? "").trim()}`;
}

/**
 * Replaces a region that redraws itself (polling, paging) and puts focus back on the same control, so a keyboard user keeps their place;
 * when that control is gone or disabled, focus goes to the view's title rather than falling out to the top of the page.
 */
export function redraw(parent: Element, ...children: Child[]): void {
  const focused = document.activeElement;
  const key = focused && focused !== parent && parent.contains(focused) ? focusKey(focused) : undefined;
  replaceChildren(parent, ...children);
  if (key === undefined) return;
  const again = [...parent.querySelectorAll<HTMLElement>("a[href], button, input, select, textarea, [tabindex]")].find((element) => focusKey(element) === key && !(element as HTMLButtonElement).disabled);
  (again ?? document.getElementById("view-title"))?.focus({ preventScroll: again !== undefined });
}

/** Says something to screen readers through the page's polite live region. */
export function announce(message: string): void {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after clearing makes screen readers read a repeated message again.
  window.setTimeout(() => (region.textContent = message), 50);
}

/** A definition list of label/value pairs, the console's way to show a record. */
export function facts(pairs: Array<[string, Child]>): HTMLDListElement {
  return h("dl", { class: "facts" }, ...pairs.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? "—")]));
}

/** Asks before an action, in a modal dialog that keeps focus inside and returns it afterwards; resolves true on confirm. */
export function confirmAction(options: { title: string; body: Child[]; confirmLabel: string; danger?: boolean }): Promise<boolean> {
  const opener = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const heading = h("h2", { id: "confirm-title" }, options.title);
    const cancel = h("button", { type: "button", class: "secondary", value: "cancel" }, "Cancel");
    const confirm = h("button", { type: "button", class: options.danger ? "danger" : "primary", value: "confirm" }, options.confirmLabel);
    // The body is the dialog's description, so a screen reader reads what the action does along with its title.
    const dialog = h("dialog", { "aria-labelledby": "confirm-title", "aria-describedby": "confirm-body", class: "confirm" }, heading, h("div", { id: "confirm-body" }, ...options.body), h("div", { class: "actions" }, cancel, confirm));
    const close = (result: boolean) => {
      dialog.close();
      dialog.remove();
      // A polling view may have redrawn behind the dialog: its opener is then a new element with the same id.
      const target = opener?.isConnected ? opener : opener?.id ? document.getElementById(opener.id) : null;
      (target && !(target as HTMLButtonElement).disabled ? target : document.getElementById("view-title"))?.focus();
      resolve(result);
    };
    cancel.addEventListener("click", () => close(false));
    confirm.addEventListener("click", () => close(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
