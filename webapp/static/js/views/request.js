// One team request: how far along it is, who is left, a reminder for them, and editing what was asked.
import { get, patch, post } from "../api.js";
import { dueLabel, shortDate, when } from "../format.js";
import { zoneOf } from "../store.js";
import { errorText, h, showFormError, toast } from "../ui.js";
import { progressBar, progressText } from "./progress.js";

const PRIORITIES = [["high", "High"], ["normal", "Normal"], ["low", "Low"]];

export function requestView(requestId) {
  const view = {
    data: null,
    error: null,
    title: "Request",
    back: "/team",
    refreshEvery: 12000, // app.js polls while the page is visible, and on focus

    async load() {
      try {
        view.data = await get(`/team-requests/${requestId}`);
        view.error = null;
      } catch (error) {
        view.error = error;
      }
    },

    render(main) {
      if (!view.data) {
        const text = !view.error ? "Loading…"
          : view.error.offline ? "You are offline and this request has not been opened on this device yet."
            : view.error.status === 404 || view.error.status === 403 ? "This request does not exist, or you cannot see it."
              : view.error.message;
        main.replaceChildren(h("p", { class: "empty" }, text));
        return;
      }
      const request = view.data;
      const editing = main.querySelector("#request-edit");
      main.replaceChildren(
        summary(request),
        people(request),
        editing?.dataset.version === request.updated_at ? editing : editForm(view, request), // keep what is being typed
      );
    },
  };
  return view;
}

function summary(request) {
  const due = request.due_on ? dueLabel(request.due_on) : null;
  return h("section", { class: "card request-card" },
    h("h2", { class: "item-heading" }, request.title),
    h("p", { class: "item-meta" },
      request.priority === "high" ? h("span", { class: "badge prio-high" }, "High priority") : "",
      request.urgent ? h("span", { class: "badge urgent" }, "Urgent") : "",
      due ? h("span", { class: `due ${due.tone}` }, `due ${due.tone === "overdue" ? shortDate(request.due_on) : due.text}`) : "",
      h("span", {}, `asked ${when(request.created_at)}`)),
    request.notes ? h("p", { class: "notes" }, request.notes) : "",
    progressBar(request),
    h("p", { class: "progress-text", id: "progress-text", "aria-live": "polite" }, progressText(request)));
}

function person(assignee, detail, tone = "") {
  return h("li", { class: `assignee ${tone}` },
    h("a", { href: `/items/${assignee.item_id}` }, h("span", { class: "assignee-name" }, assignee.person.name), detail));
}

function people(request) {
  const open = request.assignees.filter((a) => a.status === "open");
  const finished = request.assignees.filter((a) => a.status !== "open")
    .sort((a, b) => (b.completed_at || "").localeCompare(a.completed_at || ""));
  const lateness = (a) => {
    const overdue = a.due_on && a.due_on < todayOf(a);
    return overdue ? h("span", { class: "due overdue" }, `overdue · ${shortDate(a.due_on)}`) : h("span", { class: "hint" }, "open");
  };
  const outcome = (a) => h("span", { class: "item-meta" },
    a.status === "dropped" ? h("span", { class: "badge" }, "dropped")
      : a.on_time === false ? h("span", { class: "badge late" }, "late")
        : a.on_time ? h("span", { class: "badge status-done" }, "on time") : h("span", { class: "badge status-done" }, "done"),
    a.completed_at ? h("span", {}, when(a.completed_at)) : "");
  return h("section", { class: "card" },
    h("h2", {}, open.length ? `Still open (${open.length})` : "Everyone has finished"),
    open.length ? h("ul", { class: "assignees", id: "still-open" },
      open.sort((a, b) => Number(isLate(b)) - Number(isLate(a)) || a.person.name.localeCompare(b.person.name))
        .map((a) => person(a, lateness(a), isLate(a) ? "is-overdue" : ""))) : "",
    open.length ? remindButton(request, open.length) : "",
    finished.length ? [h("h2", { class: "sub" }, `Finished (${finished.length})`),
      h("ul", { class: "assignees", id: "finished" }, finished.map((a) => person(a, outcome(a))))] : "");
}

const todayOf = (assignee) => new Intl.DateTimeFormat("en-CA", { timeZone: zoneOf(assignee.person.id) }).format(new Date());
const isLate = (a) => Boolean(a.due_on && a.due_on < todayOf(a));

function remindButton(request, count) {
  const button = h("button", { type: "button", class: "button wide" }, count === 1 ? "Remind the one still open" : `Remind those still open (${count})`);
  button.onclick = async () => {
    button.disabled = true;
    try {
      const { reminded } = await post(`/team-requests/${request.id}/remind`, {});
      toast(reminded === 1 ? "Reminder sent: it goes into their next digest." : `Reminded ${reminded}: it goes into their next digest.`);
    } catch (error) {
      toast(error.offline ? "Reminding needs a connection." : errorText(error));
    } finally {
      button.disabled = false;
    }
  };
  return [button, h("p", { class: "hint center" }, "A line in their next digest, not a buzz now.")];
}

function editForm(view, request) {
  const form = h("form", { class: "card", id: "request-edit", novalidate: true, dataset: { version: request.updated_at } },
    h("details", {},
      h("summary", {}, "Edit the request"),
      h("p", { class: "hint" }, "Changes reach the items still open; finished ones stay as they were."),
      h("label", { for: "request-title" }, "Title"),
      h("input", { id: "request-title", name: "title", required: true, maxlength: "200", value: request.title }),
      h("label", { for: "request-due" }, "Due date"),
      h("input", { id: "request-due", name: "due_on", type: "date", value: request.due_on || "" }),
      h("fieldset", { class: "segmented" }, h("legend", {}, "Priority"),
        PRIORITIES.map(([value, label]) => h("label", {},
          h("input", { type: "radio", name: "priority", value, checked: request.priority === value }), h("span", {}, label)))),
      h("label", { for: "request-notes" }, "Notes ", h("span", { class: "hint" }, "(optional)")),
      h("textarea", { id: "request-notes", name: "notes", rows: "2", maxlength: "10000" }, request.notes || ""),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h("button", { type: "submit", class: "button primary wide" }, "Save changes")));
  form.onsubmit = async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const changes = {};
    const title = form.title.value.trim();
    if (!title) {
      showFormError(form, "The request needs a title.");
      form.title.focus();
      return;
    }
    if (title !== request.title) changes.title = title;
    if ((form.due_on.value || null) !== request.due_on) changes.due_on = form.due_on.value || null;
    const priority = form.querySelector('input[name="priority"]:checked').value;
    if (priority !== request.priority) changes.priority = priority;
    if (form.notes.value !== (request.notes || "")) changes.notes = form.notes.value;
    if (!Object.keys(changes).length) {
      toast("Nothing changed.");
      return;
    }
    try {
      view.data = await patch(`/team-requests/${request.id}`, changes);
      form.remove(); // rebuilt from the answer
      toast("Saved. The open items changed too.");
      window.dispatchEvent(new CustomEvent("plate:rerender"));
    } catch (error) {
      showFormError(form, error.offline ? "Editing needs a connection." : errorText(error));
    }
  };
  return form;
}
