// A plate: open items in plate order grouped by priority; done and dropped behind tabs.
import { get } from "../api.js";
import { clockIn, dueLabel, when } from "../format.js";
import { applyPending, cancel, enqueue } from "../outbox.js";
import { person, session, zoneOf } from "../store.js";
import { askDropReason, h, openSheet, toast } from "../ui.js";

const GROUPS = [["high", "High priority"], ["normal", "Normal"], ["low", "Low priority"]];
const TABS = [["open", "Open"], ["done", "Done"], ["dropped", "Dropped"]];
const OPEN_PAGE_SIZE = 200; // the API's largest page
const MOST_PAGES = 50; // a guard against a cursor that never ends, far beyond any real plate

/**
 * Every open item of a plate, in plate order: the first read at the API's default size (most plates are
 * that one small read), then pages of 200. Each page is a read the service worker keeps, so offline the
 * same pages come back; one this device never read ends the list early, and `incomplete` says so.
 */
export async function openItems(ownerId) {
  const base = `/people/${ownerId}/plate?status=open`;
  let page = await get(base);
  const items = [...page.items];
  let incomplete = false;
  for (let read = 1; page.next_cursor && read < MOST_PAGES; read += 1) {
    try {
      page = await get(`${base}&limit=${OPEN_PAGE_SIZE}&cursor=${encodeURIComponent(page.next_cursor)}`);
    } catch (error) {
      if (!error.offline) throw error;
      incomplete = true;
      break;
    }
    items.push(...page.items);
  }
  return { person: page.person, items: unique(items), incomplete };
}

/** Done or dropped items, newest first: `pages` pages of the API's default size; `next` continues them. */
async function closedItems(ownerId, status, pages, after = null) {
  const items = [];
  let page = { next_cursor: after };
  for (let read = 0; read < pages && (read === 0 || page.next_cursor); read += 1) {
    const cursor = page.next_cursor ? `&cursor=${encodeURIComponent(page.next_cursor)}` : "";
    page = await get(`/people/${ownerId}/plate?status=${status}${cursor}`);
    items.push(...page.items);
  }
  return { person: page.person, items, next: page.next_cursor };
}

/** An item that moved while the pages were read can come twice; the first copy stays. */
function unique(items) {
  const seen = new Set();
  return items.filter((item) => !seen.has(item.id) && seen.add(item.id));
}

export function plateView(personId) {
  const mine = personId === session.user.id;
  const view = {
    ownerId: personId,
    tab: new URLSearchParams(location.search).get("tab") || "open",
    pages: 1, // of done or dropped items shown; a reload keeps them
    data: null,
    error: null,
    get title() {
      if (mine) return "My plate";
      const name = view.data?.person?.name || person(personId)?.name;
      return name ? `${name.split(" ")[0]}'s plate` : "Plate";
    },
    back: mine ? null : "/team",

    async load() {
      try {
        view.data = view.tab === "open" ? await openItems(personId) : await closedItems(personId, view.tab, view.pages);
        view.error = null;
      } catch (error) {
        view.error = error;
      }
    },

    /** The next page of done or dropped items, below those shown. */
    async more(button) {
      const tab = view.tab;
      button.disabled = true;
      button.textContent = "Loading…";
      try {
        const page = await closedItems(personId, tab, 1, view.data.next);
        if (view.tab !== tab) return;
        view.data = { ...view.data, items: unique([...view.data.items, ...page.items]), next: page.next };
        view.pages += 1;
      } catch (error) {
        toast(error.offline ? "Older items need a connection." : error.message);
      }
      window.dispatchEvent(new CustomEvent("plate:rerender"));
    },

    render(main, ops) {
      const items = view.data || view.error ? applyPending(view.data?.items || [], ops, { ownerId: personId, status: view.tab }) : [];
      const list = view.tab === "open" ? openList(items, personId) : closedList(items, view.tab);
      const more = view.data?.next
        && h("button", { type: "button", class: "button wide", onclick: (event) => view.more(event.currentTarget) }, "Show more");
      main.replaceChildren(
        mine ? reviewLink() : ownerLine(personId),
        tabs(view, main, ops),
        h("section", { id: "tab-panel", role: "tabpanel", "aria-labelledby": `tab-${view.tab}` },
          !view.error || view.data
            ? [view.data?.incomplete ? h("p", { class: "hint" }, "Offline: only part of this plate is on this device.") : "", list, more].flat()
            : items.length ? [h("p", { class: "hint" }, "Offline: only what you changed on this device shows here for now."), list]
              : problem(view.error)),
        mine ? h("p", { class: "plate-footer" }, h("a", { href: `/people/${personId}/record` }, "My record ›")) : "",
      );
    },
  };
  return view;
}

function ownerLine(personId) {
  const someone = person(personId);
  if (!someone) return "";
  return h("p", { class: "owner-line" }, h("span", {}, `${someone.name} · ${clockIn(someone.time_zone)} their time`),
    h("a", { href: `/people/${personId}/record` }, "Record ›"));
}

/** Items waiting for "Still needed?" (the count app.js last read). */
function reviewLink() {
  const count = session.reviewCount;
  if (!count) return "";
  return h("a", { class: "review-link", href: "/review" },
    h("strong", {}, "Still needed?"), ` ${count} ${count === 1 ? "item waits" : "items wait"} for a decision ›`);
}

function tabs(view, main, ops) {
  const select = async (tab) => {
    view.tab = tab;
    view.pages = 1;
    history.replaceState(null, "", tab === "open" ? location.pathname : `${location.pathname}?tab=${tab}`);
    view.data = null;
    view.error = null;
    view.render(main, ops);
    await view.load();
    window.dispatchEvent(new CustomEvent("plate:rerender"));
    document.getElementById(`tab-${tab}`)?.focus();
  };
  return h("div", { class: "tabs", role: "tablist", "aria-label": "Which items" },
    TABS.map(([tab, label]) => h("button", {
      type: "button", role: "tab", id: `tab-${tab}`, "aria-selected": String(view.tab === tab),
      tabindex: view.tab === tab ? "0" : "-1", onclick: () => select(tab),
      onkeydown: (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const index = (TABS.findIndex(([t]) => t === view.tab) + step + TABS.length) % TABS.length;
        select(TABS[index][0]);
      },
    }, label)));
}

function problem(error) {
  const text = error.offline ? "You are offline and this plate has not been opened on this device yet."
    : error.status === 403 ? "Only this person and their managers can see this plate." : error.message;
  return h("p", { class: "empty" }, text);
}

function openList(items, ownerId) {
  if (!items.length) {
    return h("div", { class: "empty" }, h("p", {}, "Nothing on this plate."),
      h("p", { class: "hint" }, "Tap + Add to put something on it."));
  }
  return GROUPS.map(([priority, label]) => {
    const group = items.filter((item) => item.priority === priority);
    if (!group.length) return "";
    return h("section", { class: `group group-${priority}`, "aria-label": label },
      h("h2", { class: "group-title" }, label, h("span", { class: "count" }, String(group.length))),
      h("ul", { class: "items" }, group.map((item, index) => openRow(item, group, index, ownerId))));
  });
}

function meta(item) {
  const due = dueLabel(item.due_on, zoneOf(item.owner?.id));
  const fromSomeoneElse = item.created_by && item.owner && item.created_by.id !== item.owner.id;
  return h("span", { class: "item-meta" },
    item.urgent ? h("span", { class: "badge urgent" }, "Urgent") : "",
    due ? h("span", { class: `due ${item.overdue ? "overdue" : due.tone}` }, item.overdue && due.tone !== "overdue" ? `overdue · ${due.text}` : due.text) : "",
    fromSomeoneElse ? h("span", { class: "from" }, `from ${item.created_by.name.split(" ")[0]}`) : "",
    item.problem ? h("span", { class: "sync problem" }, item.problem === "conflict" ? "conflict" : "not saved")
      : item.pending ? h("span", { class: "sync" }, "waiting to sync") : "");
}

function titleLink(item) {
  const title = h("span", { class: "item-title" }, item.title);
  return typeof item.id === "number"
    ? h("a", { class: "item-main", href: `/items/${item.id}` }, title, meta(item))
    : h("div", { class: "item-main" }, title, meta(item));
}

function openRow(item, group, index, ownerId) {
  const row = h("li", { class: `item${item.urgent ? " is-urgent" : ""}${item.pending ? " is-pending" : ""}`, dataset: { id: item.id } },
    h("label", { class: "tick" },
      h("input", { type: "checkbox", "aria-label": `Done: ${item.title}`, onchange: (event) => complete(item, event.target, group, index) }),
      h("span", { class: "tick-box", "aria-hidden": "true" })),
    titleLink(item),
    h("button", { type: "button", class: "icon-button more", "aria-label": `More for ${item.title}`,
      "aria-haspopup": "dialog", onclick: () => actions(item, group, index, ownerId) }, "⋯"));
  return row;
}

/** The item as a queued write remembers it, so other lists can show it before the server has the write. */
const snapshot = ({ pending, problem, ...item }) => item;

async function complete(item, checkbox, group, index) {
  checkbox.closest("li").classList.add("leaving");
  // Where it was, to put it back exactly there: after the one above it, or else before the one below.
  const back = index > 0 ? { after_id: group[index - 1].id } : group[index + 1] ? { before_id: group[index + 1].id } : null;
  const op = await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version, body: { status: "done" }, snapshot: snapshot(item) });
  toast(`Done: ${item.title}`, {
    label: "Undo",
    run: async () => {
      if (await cancel(op)) return; // not sent yet: as if it never happened
      // Already sent: reopening places it by priority, so move it back to its old neighbour too.
      await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version + 1, body: { status: "open" },
                      snapshot: { ...snapshot(item), status: "done", version: item.version + 1 } });
      if (back) await enqueue({ kind: "move", itemId: item.id, body: back });
    },
  });
}

function actions(item, group, index, ownerId) {
  const sheet = document.getElementById("action-sheet");
  sheet.querySelector("#action-title").textContent = item.title;
  const act = (label, run, attrs = {}) => h("button", {
    type: "button", class: "action", ...attrs, onclick: () => { sheet.close(); run(); },
  }, label);
  const real = typeof item.id === "number";
  sheet.querySelector("[data-actions]").replaceChildren(
    act("Move up", () => move(item, { before_id: group[index - 1].id }), { disabled: index === 0 }),
    act("Move down", () => move(item, { after_id: group[index + 1].id }), { disabled: index === group.length - 1 }),
    act("Open details", () => { location.href = `/items/${item.id}`; }, { disabled: !real }),
    act("Drop…", () => drop(item), { class: "action danger" }),
  );
  openSheet(sheet);
  sheet.querySelector(".action:not([disabled])")?.focus();
}

async function move(item, placement) {
  await enqueue({ kind: "move", itemId: item.id, body: placement });
  requestAnimationFrame(() => document.querySelector(`li[data-id="${item.id}"] .more`)?.focus());
}

export function drop(item, after) {
  askDropReason(item.title, async (reason, sheet) => {
    sheet.close();
    await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version, body: { status: "dropped", drop_reason: reason },
                    snapshot: snapshot(item) });
    toast(`Dropped: ${item.title}`);
    after?.();
  });
}

function closedList(items, tab) {
  if (!items.length) return h("p", { class: "empty" }, tab === "done" ? "Nothing done yet." : "Nothing dropped.");
  return h("ul", { class: "items closed" }, items.map((item) => h("li", { class: "item", dataset: { id: item.id } },
    h("a", { class: "item-main", href: `/items/${item.id}` },
      h("span", { class: "item-title" }, item.title),
      h("span", { class: "item-meta" },
        tab === "done" && item.completed_at ? `Done ${when(item.completed_at)}` : "",
        tab === "dropped" ? `Dropped${item.dropped_at ? ` ${when(item.dropped_at)}` : ""}: ${item.drop_reason || ""}` : "",
        item.problem ? h("span", { class: "sync problem" }, item.problem === "conflict" ? "conflict" : "not saved")
          : item.pending ? h("span", { class: "sync" }, "waiting to sync") : "")),
    h("button", { type: "button", class: "button small", onclick: () => reopen(item) }, "Reopen"))));
}

async function reopen(item) {
  await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version, body: { status: "open" }, snapshot: snapshot(item) });
  toast(`Back on the plate: ${item.title}`);
}
