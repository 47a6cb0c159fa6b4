// Team: everyone below you and how loaded they are (sortable), what you asked of them, interruptions saved; invite people.
import { openAddSheet } from "../addsheet.js";
import { get, post } from "../api.js";
import { clockIn, dueLabel } from "../format.js";
import { loadPeople, peopleBelow, person, session } from "../store.js";
import { errorText, h, showFormError } from "../ui.js";
import { progressBar, progressText } from "./progress.js";

const SORTS = [["load", "Busiest"], ["overdue", "Overdue"], ["name", "A–Z"]];
const DEPTHS = [["1", "Direct reports"], ["all", "Everyone"]];
const total = (row) => row.open.high + row.open.normal + row.open.low;
const byName = (a, b) => a.person.name.localeCompare(b.person.name);
const ORDER = {
  load: (a, b) => total(b) - total(a) || b.open.high - a.open.high || byName(a, b),
  overdue: (a, b) => b.overdue - a.overdue || b.due_this_week - a.due_this_week || byName(a, b),
  name: byName,
};

export function teamView() {
  const params = new URLSearchParams(location.search);
  const view = {
    title: "Team",
    sort: ORDER[params.get("sort")] ? params.get("sort") : "load",
    depth: params.get("depth") === "all" ? "all" : "1",
    workload: null,
    interruptions: null,
    requests: null,

    async load() {
      const [workload, interruptions, requests] = await Promise.allSettled([
        get(`/team?depth=${view.depth}`), get("/stats/interruptions?days=7"), get("/team-requests?mine=true"),
        loadPeople(), // the fallback list, and names of managers further down
      ]);
      view.workload = workload.status === "fulfilled" ? workload.value : null;
      view.interruptions = interruptions.status === "fulfilled" ? interruptions.value : view.interruptions;
      const list = requests.status === "fulfilled" ? requests.value : null;
      view.requests = list ? (Array.isArray(list) ? list : list.items) : view.requests;
    },

    async change(key, value, main) {
      view[key] = value;
      const query = new URLSearchParams({ ...(view.sort !== "load" && { sort: view.sort }), ...(view.depth !== "1" && { depth: view.depth }) });
      history.replaceState(null, "", `${location.pathname}${query.size ? `?${query}` : ""}`);
      if (key === "depth") await view.load();
      view.render(main);
      main.querySelector(`input[name="${key}"]:checked`)?.focus();
    },

    render(main) {
      const below = peopleBelow(session.user.id);
      main.replaceChildren(...[
        view.interruptions ? h("p", { class: "card interruptions", id: "interruptions" },
          h("strong", {}, view.interruptions.text), h("span", { class: "hint" }, ` · last ${view.interruptions.days} days`)) : "",
        !below.length && !view.workload?.length
          ? h("div", { class: "empty" }, h("p", {}, "No one reports to you yet."),
              h("p", { class: "hint" }, "Invite your team below; they will see their plate and what you add to it."))
          : [controls(view, main, below.some((p) => p.depth > 1)),
            view.workload ? h("ul", { class: "team", id: "workload" }, workloadRows(view))
              : h("ul", { class: "team" }, below.map(peopleRow))],
        below.length ? requestsCard(view.requests) : "",
        main.querySelector("#invite-form") || inviteForm(), // keep what is being typed
      ].flat());
    },
  };
  return view;
}

function choice(name, options, current, onChoose, label) {
  return h("fieldset", { class: "segmented compact" }, h("legend", {}, label),
    options.map(([value, text]) => h("label", {},
      h("input", { type: "radio", name, value, checked: value === current, onchange: () => onChoose(value) }), h("span", {}, text))));
}

function controls(view, main, deep) {
  return h("div", { class: "team-controls" },
    choice("sort", SORTS, view.sort, (value) => view.change("sort", value, main), "Sort by"),
    deep ? choice("depth", DEPTHS, view.depth, (value) => view.change("depth", value, main), "Show") : "");
}

function workloadRows(view) {
  const most = Math.max(1, ...view.workload.map(total));
  return [...view.workload].sort(ORDER[view.sort]).map((row) => workloadRow(row, most));
}

function count(value, label, tone) {
  return h("span", { class: `count-pill ${tone}${value ? "" : " zero"}` }, h("strong", {}, value ?? "–"), ` ${label}`);
}

/** One person's load; `most` is the biggest load in the list, the full width of a bar. */
function workloadRow(row, most) {
  const p = row.person;
  const open = total(row);
  const zone = person(p.id)?.time_zone;
  const manager = p.manager_id !== session.user.id ? person(p.manager_id) : null;
  const part = (tone, n) => (n ? h("span", { class: tone, style: { width: `${(100 * n) / most}%` } }) : "");
  return h("li", { class: "team-row", dataset: { id: p.id } },
    h("a", { href: `/people/${p.id}` },
      h("span", { class: "team-name" }, p.name,
        h("span", { class: "team-time" }, row.in_quiet_hours ? h("span", { class: "quiet", title: "In quiet hours" }, "☾ quiet · ") : "",
          row.local_time.slice(11, 16), zone ? ` · ${zone.split("/").pop().replaceAll("_", " ")}` : "")),
      manager ? h("span", { class: "hint" }, `reports to ${manager.name}`) : "",
      h("span", { class: "load-bar", role: "img", "aria-label": `${open} open: ${row.open.high} high, ${row.open.normal} normal, ${row.open.low} low` },
        part("high", row.open.high), part("normal", row.open.normal), part("low", row.open.low)),
      h("span", { class: "team-counts" },
        h("span", { class: "open-split" }, `${open} open`, open ? `: ${row.open.high} high · ${row.open.normal} normal · ${row.open.low} low` : ""),
        count(row.overdue, "overdue", "overdue"),
        row.due_this_week ? count(row.due_this_week, "due this week", "week") : ""),
      h("span", { class: "hint" }, `${row.done_last_7_days} done in the last 7 days`,
        row.oldest_open_days ? ` · oldest open ${row.oldest_open_days} days` : "")),
    h("a", { class: "team-record", href: `/people/${p.id}/record` }, "Record"));
}

/** Offline or before the workload read answers: the people list's own counts. */
function peopleRow(p) {
  return h("li", { class: `team-row depth-${Math.min(p.depth, 3)}` },
    h("a", { href: `/people/${p.id}` },
      h("span", { class: "team-name" }, p.name,
        h("span", { class: "team-time" }, `${clockIn(p.time_zone)} · ${p.time_zone.split("/").pop().replace("_", " ")}`)),
      h("span", { class: "team-counts" },
        count(p.open_items, "open", "open"), count(p.high_items, "high", "high"), count(p.overdue_items, "overdue", "overdue"))),
    h("a", { class: "team-record", href: `/people/${p.id}/record` }, "Record"));
}

function requestsCard(requests) {
  return h("section", { class: "card", id: "my-requests" },
    h("div", { class: "card-head" }, h("h2", {}, "What I asked"),
      h("button", { type: "button", class: "button small primary", onclick: () => openAddSheet(null, { askTeam: true }) }, "Ask my team")),
    !requests ? h("p", { class: "hint" }, "Your requests show here when you are online.")
      : !requests.length ? h("p", { class: "hint" }, "Ask everyone at once; watch it get done here without asking again.")
        : h("ul", { class: "requests" }, requests.map((r) => {
          const due = dueLabel(r.due_on);
          return h("li", {}, h("a", { href: `/requests/${r.id}` },
            h("span", { class: "item-title" }, r.title),
            progressBar(r),
            h("span", { class: "item-meta" }, progressText(r), due ? h("span", { class: `due ${due.tone}` }, `due ${due.text}`) : "")));
        })),
    h("a", { class: "team-record-self", href: `/people/${session.user.id}/record` }, "My record ›"));
}

function inviteForm() {
  const form = h("form", { class: "card", id: "invite-form", novalidate: true },
    h("h2", {}, "Invite someone to report to you"),
    h("label", { for: "invite-name" }, "Name"),
    h("input", { id: "invite-name", name: "name", required: true, maxlength: "200", autocomplete: "off" }),
    h("label", { for: "invite-email" }, "Email"),
    h("input", { id: "invite-email", name: "email", type: "email", required: true, autocomplete: "off" }),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("button", { type: "submit", class: "button primary wide" }, "Create invitation link"),
    h("div", { class: "invite-result", "aria-live": "polite" }));
  form.onsubmit = async (event) => {
    event.preventDefault();
    showFormError(form, "");
    try {
      const invitation = await post("/invitations", { name: form.name.value.trim(), email: form.email.value.trim() });
      const link = h("input", { readonly: true, value: invitation.url, "aria-label": "Invitation link", class: "invite-link" });
      form.querySelector(".invite-result").replaceChildren(
        h("p", {}, "Send them this link (valid for 7 days, once):"), link,
        h("button", { type: "button", class: "button small", onclick: () => navigator.clipboard?.writeText(invitation.url) }, "Copy link"));
      form.name.value = form.email.value = "";
    } catch (error) {
      showFormError(form, error.offline ? "Invitations need a connection." : errorText(error));
    }
  };
  return form;
}
