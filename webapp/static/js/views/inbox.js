// The inbox: every notification, pushed or not, newest first; the bell in the app bar counts the unread.
import { get, post } from "../api.js";
import { when } from "../format.js";
import { h, toast } from "../ui.js";

const PAGE_SIZE = 30;

/** Tell the bell how many are unread (app.js listens). */
export function announceUnread(unread) {
  window.dispatchEvent(new CustomEvent("plate:unread", { detail: unread }));
}

function sentence(note) {
  const who = note.actor ? note.actor.name.split(" ")[0] : "Someone";
  const title = `“${note.item?.title ?? "an item"}”`;
  switch (note.kind) {
    case "added": return `${who} added ${title} to your plate`;
    case "reassigned": return `${who} moved ${title} to your plate`;
    case "urgent": return `${who} marked ${title} urgent`;
    case "completed": return `${who} completed ${title}`;
    case "dropped": return `${who} dropped ${title}`;
    case "reopened": return `${who} reopened ${title}`;
    case "due_changed": return `${who} changed when ${title} is due`;
    case "priority_changed": return `${who} changed the priority of ${title}`;
    case "due_today": return `${title} is due today`;
    case "reminder": return `Reminder from ${who}: ${note.item?.title ?? "an item"}`;
    default: return `${who} changed ${title}`;
  }
}

export function inboxView() {
  const view = {
    title: "Inbox",
    back: "/",
    notes: [],
    unread: 0,
    next: null,
    error: null,

    async load() {
      try {
        const page = await get(`/notifications?limit=${PAGE_SIZE}`);
        view.notes = page.items;
        view.unread = page.unread;
        view.next = page.next_cursor;
        view.error = null;
        announceUnread(page.unread);
      } catch (error) {
        view.error = error;
      }
    },

    async older() {
      try {
        const page = await get(`/notifications?limit=${PAGE_SIZE}&cursor=${view.next}`);
        view.notes = [...view.notes, ...page.items];
        view.next = page.next_cursor;
      } catch (error) {
        toast(error.offline ? "Older notifications need a connection." : error.message);
      }
      window.dispatchEvent(new CustomEvent("plate:rerender"));
    },

    async markRead(ids) {
      try {
        const { unread } = await post("/notifications/read", ids ? { ids } : { all: true });
        view.notes = view.notes.map((note) => (!ids || ids.includes(note.id) ? { ...note, read: true } : note));
        view.unread = unread;
        announceUnread(unread);
      } catch (error) {
        if (!ids) toast(error.offline ? "You are offline; try again with a connection." : error.message);
      }
      window.dispatchEvent(new CustomEvent("plate:rerender"));
    },

    render(main) {
      if (!view.notes.length) {
        const text = view.error ? (view.error.offline ? "You are offline and your inbox has not been opened on this device yet." : view.error.message)
          : "Nothing yet. When someone adds to your plate or changes what you asked for, it shows up here.";
        main.replaceChildren(h("p", { class: "empty" }, text));
        return;
      }
      main.replaceChildren(
        h("div", { class: "inbox-head" },
          h("p", { class: "hint" }, view.unread ? `${view.unread} unread` : "All read"),
          view.unread ? h("button", { type: "button", class: "button small", onclick: () => view.markRead(null) }, "Mark all read") : ""),
        h("ul", { class: "inbox" }, view.notes.map((note) => row(view, note))),
        view.next ? h("button", { type: "button", class: "button wide", onclick: () => view.older() }, "Show older") : "");
    },
  };
  return view;
}

function row(view, note) {
  const text = [h("span", { class: "note-text" }, sentence(note)),
    h("span", { class: "item-meta" }, note.urgent ? h("span", { class: "badge urgent" }, "Urgent") : "",
      h("time", { datetime: note.created_at }, when(note.created_at)),
      note.read ? "" : h("span", { class: "visually-hidden" }, "unread"))];
  const open = (event) => {
    if (note.read) return;
    event.preventDefault(); // mark it read first, then go (leaving at once would cut the request short)
    const { href } = event.currentTarget;
    view.markRead([note.id]).finally(() => { location.href = href; });
  };
  return h("li", { class: `note${note.read ? "" : " unread"}`, dataset: { id: note.id } },
    note.item ? h("a", { href: `/items/${note.item.id}`, onclick: open }, text) : h("div", {}, text));
}
