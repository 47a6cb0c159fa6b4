// One item: its details, an edit form, and its history in words.
import { get } from "../api.js";
import { dueLabel, shortDate, when } from "../format.js";
import { applyToItem, enqueue } from "../outbox.js";
import { session, zoneOf } from "../store.js";
import { h, toast } from "../ui.js";
import { drop } from "./plate.js";

const FIELD_NAMES = { title: "the title", notes: "the notes", priority: "the priority", urgent: "urgency",
                      due_on: "the due date", owner_id: "the owner" };

export function itemView(itemId) {
  const view = {
    item: null,
    history: null,
    titles: new Map(), // the items a move was placed against: "moved it above X"
    error: null,
    title: "Item",
    get back() {
      const owner = view.item?.owner?.id;
      return owner && owner !== session.user.id ? `/people/${owner}` : "/";
    },
    get ownerId() {
      return view.item?.owner?.id;
    },

    async load() {
      const [item, history] = await Promise.allSettled([get(`/items/${itemId}`), get(`/items/${itemId}/history`)]);
      view.error = item.status === "rejected" ? item.reason : null;
      view.item = item.status === "fulfilled" ? item.value : view.item;
      view.history = history.status === "fulfilled" ? history.value : view.history;
      const anchors = new Set((view.history || []).filter((event) => event.action === "moved")
        .map((event) => anchorOf(event)?.id).filter((id) => id && !view.titles.has(id)));
      await Promise.allSettled([...anchors].slice(0, 20).map(async (id) => {
        view.titles.set(id, (await get(`/items/${id}`)).title);
      }));
    },

    render(main, ops) {
      if (!view.item) {
        const text = view.error?.offline ? "You are offline and this item has not been opened on this device yet."
          : "This item does not exist, or you cannot see it.";
        main.replaceChildren(h("p", { class: "empty" }, text));
        return;
      }
      const item = applyToItem(view.item, ops);
      if (main.contains(document.activeElement) && document.activeElement.form?.id === "edit-form") return; // typing
      main.replaceChildren(details(item), editForm(item), historyList(view.history, view.titles));
    },
  };
  return view;
}

function details(item) {
  const due = dueLabel(item.due_on, zoneOf(item.owner.id));
  const statusText = { open: "Open", done: "Done", dropped: "Dropped" }[item.status];
  return h("section", { class: "card item-card" },
    h("h2", { class: "item-heading" }, item.title),
    h("p", { class: "item-meta" },
      h("span", { class: `badge status-${item.status}` }, statusText),
      h("span", { class: `badge prio-${item.priority}` }, `${item.priority[0].toUpperCase()}${item.priority.slice(1)} priority`),
      item.urgent ? h("span", { class: "badge urgent" }, "Urgent") : "",
      due ? h("span", { class: `due ${item.overdue ? "overdue" : due.tone}` }, `due ${due.text}`) : "",
      item.pending ? h("span", { class: "sync" }, "waiting to sync") : ""),
    h("p", { class: "people-line" }, `On ${item.owner.id === session.user.id ? "your" : `${item.owner.name}'s`} plate · added by ${
      item.created_by.id === session.user.id ? "you" : item.created_by.name}`),
    item.notes ? h("p", { class: "notes" }, item.notes) : "",
    item.status === "dropped" && item.drop_reason ? h("p", { class: "notes" }, `Dropped: ${item.drop_reason}`) : "",
    h("div", { class: "row-actions" },
      item.status === "open"
        ? [h("button", { type: "button", class: "button primary", onclick: () => setStatus(item, "done") }, "Mark done"),
           h("button", { type: "button", class: "button danger-outline", onclick: () => drop(item) }, "Drop…")]
        : h("button", { type: "button", class: "button", onclick: () => setStatus(item, "open") }, "Reopen")));
}

async function setStatus(item, status) {
  const { pending, problem, ...snapshot } = item;
  await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version, body: { status }, snapshot });
  toast(status === "done" ? "Marked done." : "Reopened.");
}

function editForm(item) {
  const radio = (value, label) => h("label", {},
    h("input", { type: "radio", name: "priority", value, checked: item.priority === value }), h("span", {}, label));
  const form = h("form", { id: "edit-form", class: "card", novalidate: true },
    h("h2", {}, "Edit"),
    h("label", { for: "edit-title" }, "Title"),
    h("input", { id: "edit-title", name: "title", value: item.title, required: true, maxlength: "200" }),
    h("fieldset", { class: "segmented" }, h("legend", {}, "Priority"),
      radio("high", "High"), radio("normal", "Normal"), radio("low", "Low")),
    h("label", { for: "edit-due" }, "Due date"),
    h("input", { id: "edit-due", name: "due_on", type: "date", value: item.due_on || "" }),
    h("label", { class: "switch" }, h("input", { type: "checkbox", name: "urgent", checked: item.urgent }), h("span", {}, "Urgent")),
    h("label", { for: "edit-notes" }, "Notes"),
    h("textarea", { id: "edit-notes", name: "notes", rows: "3", maxlength: "10000" }, item.notes || ""),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("button", { type: "submit", class: "button primary wide" }, "Save changes"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const wanted = {
      title: form.title.value.trim(), priority: form.priority.value, due_on: form.due_on.value || null,
      urgent: form.urgent.checked, notes: form.notes.value,
    };
    const error = form.querySelector(".form-error");
    if (!wanted.title) {
      error.textContent = "Give it a title.";
      error.hidden = false;
      form.title.focus();
      return;
    }
    const body = Object.fromEntries(Object.entries(wanted).filter(([field, value]) => value !== (item[field] ?? null)));
    if (!Object.keys(body).length) {
      toast("Nothing changed.");
      return;
    }
    document.activeElement?.blur();
    await enqueue({ kind: "edit", itemId: item.id, ifMatch: item.version, body });
    toast("Saved.");
  };
  return form;
}

/** The item a move placed this one against: {id, above: true} for before_id, false for after_id. */
function anchorOf(event) {
  const [, before] = event.changes?.before_id || [];
  const [, after] = event.changes?.after_id || [];
  if (before != null) return { id: before, above: true };
  return after != null ? { id: after, above: false } : null;
}

function describe(event, titles) {
  const me = event.actor.id === session.user.id;
  const who = me ? "You" : event.actor.name.split(" ")[0];
  const changes = event.changes || {};
  switch (event.action) {
    case "created": return `${who} added this`;
    case "completed": return `${who} marked it done`;
    case "reopened": return `${who} reopened it`;
    case "dropped": return `${who} dropped it: ${changes.drop_reason?.[1] || ""}`;
    case "reassigned": return `${who} moved it to another plate`;
    case "moved": {
      const anchor = anchorOf(event);
      const title = anchor && titles.get(anchor.id);
      if (title) return `${who} moved it ${anchor.above ? "above" : "below"} “${title}”`;
      return `${who} moved it ${anchor?.above ? "up" : "down"} the plate`;
    }
    default: {
      const fields = Object.keys(changes).map((field) => {
        if (field === "due_on") return changes.due_on[1] ? `the due date to ${shortDate(changes.due_on[1])}` : "the due date away";
        if (field === "priority") return `the priority to ${changes.priority[1]}`;
        if (field === "urgent") return changes.urgent[1] ? "it to urgent" : "it to not urgent";
        return FIELD_NAMES[field] || field;
      });
      return `${who} changed ${fields.join(", ") || "it"}`;
    }
  }
}

function historyList(history, titles) {
  return h("section", { class: "card" }, h("h2", {}, "History"),
    history ? h("ol", { class: "history" }, history.map((event) => h("li", {},
      h("span", {}, describe(event, titles)), h("time", { datetime: event.at }, ` · ${when(event.at)}`))))
      : h("p", { class: "hint" }, "History is not available offline."));
}
