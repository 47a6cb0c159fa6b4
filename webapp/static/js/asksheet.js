// "Ask my team": the add sheet's second mode, one request that lands on several plates at once.
import { request } from "./api.js";
import { presetDate } from "./format.js";
import { peopleBelow, session } from "./store.js";
import { errorText, h, showFormError } from "./ui.js";

let sent = { key: null, body: null }; // a retry of the same request reuses its Idempotency-Key

const newKey = () => crypto.randomUUID?.() || `${Date.now()}-${Math.random().toString(16).slice(2)}`;

/** Prepare the team fields each time the sheet opens; onChange redraws the sheet after each choice. */
export function prepareAsk(form, startAsking, onChange) {
  const below = peopleBelow(session.user.id);
  form.querySelector(`input[name="mode"][value="${startAsking ? "team" : "one"}"]`).checked = true;
  const direct = below.filter((p) => p.depth === 1);
  form.querySelector('[data-who="all_reports"]').textContent = `My direct reports (${direct.length})`;
  form.querySelector('[data-who="all_below"]').textContent = `Everyone below me (${below.length})`;
  form.querySelector('input[name="who"][value="all_below"]').closest("label").hidden = below.length === direct.length;
  const most = Math.max(1, ...below.map((p) => p.open_items || 0));
  form.querySelector("#ask-people").replaceChildren(
    h("p", { class: "hint" }, "Open items on each plate, so you see who is already busy."),
    ...below.map((p) => pickRow(p, most)));
  form.querySelector("#ask-people").hidden = true;
  form.querySelectorAll('input[name="mode"], input[name="who"], #ask-people input').forEach((input) => {
    input.onchange = () => {
      form.querySelector("#ask-people").hidden = form.querySelector('input[name="who"]:checked').value !== "pick";
      onChange();
    };
  });
}

function pickRow(p, most) {
  const open = p.open_items ?? 0;
  const load = p.open_items == null ? "" : `${open} open${p.overdue_items ? ` · ${p.overdue_items} overdue` : ""}`;
  return h("label", { class: "slot pick" },
    h("input", { type: "checkbox", name: "assignee", value: p.id }),
    h("span", { class: "pick-name" }, `${"· ".repeat(p.depth - 1)}${p.name}`,
      h("small", {}, load),
      h("span", { class: "load-bar", "aria-hidden": "true" },
        h("span", { class: "high", style: { width: `${(100 * (p.high_items || 0)) / most}%` } }),
        h("span", { class: "rest", style: { width: `${(100 * (open - (p.high_items || 0))) / most}%` } }))));
}

/** Who the request goes to, as the API takes it; null when "pick" has nobody ticked. */
function assignees(form) {
  const who = form.querySelector('input[name="who"]:checked').value;
  if (who !== "pick") return { [who]: true };
  const ids = [...form.querySelectorAll('input[name="assignee"]:checked')].map((box) => Number(box.value));
  return ids.length ? { assignee_ids: ids } : null;
}

function countAsked(form) {
  const chosen = assignees(form);
  if (!chosen) return 0;
  if (chosen.assignee_ids) return chosen.assignee_ids.length;
  const below = peopleBelow(session.user.id);
  return chosen.all_reports ? below.filter((p) => p.depth === 1).length : below.length;
}

/** "Ask 3 people": the submit button while asking. */
export function submitLabel(form) {
  const n = countAsked(form);
  return n === 1 ? "Ask 1 person" : `Ask ${n} people`;
}

/** Send the request (it needs a connection) and open its page. */
export async function submitAsk(form) {
  const title = form.title.value.trim();
  const chosen = assignees(form);
  if (!title || !chosen) {
    showFormError(form, title ? "Pick at least one person to ask." : "What do you need from them?");
    (title ? form.querySelector("#ask-people input") : form.title)?.focus();
    return;
  }
  const preset = form.due.value;
  const dueOn = preset === "pick" ? form.due_on.value || null : presetDate(preset, session.user.time_zone);
  const body = { title, priority: form.querySelector('input[name="priority"]:checked').value, urgent: form.urgent.checked,
                 placement: form.on_top.checked ? "top" : "default", ...chosen };
  if (dueOn) body.due_on = dueOn;
  if (form.notes.value.trim()) body.notes = form.notes.value;
  if (!navigator.onLine) {
    showFormError(form, "Asking your team needs a connection. Nothing was sent; try again when you are back online.");
    return;
  }
  const json = JSON.stringify(body);
  if (sent.body !== json) sent = { key: newKey(), body: json };
  const button = form.querySelector("#add-submit");
  button.disabled = true;
  try {
    const created = await request("POST", "/team-requests", { body, headers: { "Idempotency-Key": sent.key } });
    sent = { key: null, body: null };
    location.href = `/requests/${created.id}`;
  } catch (error) {
    showFormError(form, error.offline
      ? "Asking your team needs a connection. Nothing was sent; try again when you are back online."
      : errorText(error));
  } finally {
    button.disabled = false;
  }
}
