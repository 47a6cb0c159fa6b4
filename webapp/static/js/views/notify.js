// Settings → Notifications: digest times, quiet hours and days; and push on this device.
import { get, patch } from "../api.js";
import { clockIn } from "../format.js";
import { currentSubscription, pushSupport, sendTest, turnOff, turnOn } from "../push.js";
import { session } from "../store.js";
import { h, showFormError, toast } from "../ui.js";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]; // ISO weekdays 1..7
const MAX_DIGESTS = 6;

export const loadNotificationSettings = () => get("/me/notification-settings");

/** "It is 14:05 for you · next digest: Thu 09:00", kept current by the minute. */
function statusLine(settings) {
  const line = h("p", { class: "notify-status", id: "notify-status" });
  const update = () => {
    const local = settings.time_zone ? clockIn(settings.time_zone) : settings.local_time;
    line.replaceChildren(`It is ${local} for you (${settings.time_zone.replaceAll("_", " ")}) · `,
      h("strong", {}, settings.next_digest ? `next digest: ${settings.next_digest}` : "no digest scheduled"));
  };
  update();
  const timer = setInterval(() => (line.isConnected ? update() : clearInterval(timer)), 30000);
  return line;
}

/** The messages of one field's 422 errors, however deeply the API nested them. */
function messages(value) {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messages);
  return value && typeof value === "object" ? Object.values(value).flatMap(messages) : [];
}

function showFieldErrors(form, errors) {
  form.querySelectorAll("[data-error-for]").forEach((box) => {
    const value = errors?.[box.dataset.errorFor];
    const text = messages(value).join(" ");
    box.textContent = text;
    box.hidden = !text;
    // A list's errors are keyed by index ({"3": [...]}): mark just those entries.
    const indexes = value && !Array.isArray(value) && typeof value === "object" ? Object.keys(value).filter((k) => /^\d+$/.test(k)) : [];
    form.querySelectorAll(`[data-field="${box.dataset.errorFor}"]`).forEach((input, i) => {
      if (text && (!indexes.length || indexes.includes(String(i)))) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  });
  return form.querySelector("[data-error-for]:not([hidden])");
}

const fieldError = (field) => h("p", { class: "field-error", id: `error-${field}`, dataset: { errorFor: field }, hidden: true });

function digestRow(value, list) {
  const input = h("input", { type: "time", value, dataset: { field: "digest_times" },
    "aria-describedby": "error-digest_times", class: "digest-time" });
  const rowEl = h("div", { class: "digest-row" }, input,
    h("button", { type: "button", class: "icon-button", onclick: () => {
      if (list.children.length > 1) rowEl.remove();
      list.dispatchEvent(new Event("change"));
    } }, "✕"));
  return rowEl;
}

export function notificationForm(settings, onSaved) {
  const list = h("div", { class: "digest-list" });
  settings.digest_times.forEach((t) => list.append(digestRow(t, list)));
  const addTime = h("button", { type: "button", class: "button small", onclick: () => {
    list.append(digestRow("", list));
    list.lastElementChild.querySelector("input").focus();
    list.dispatchEvent(new Event("change"));
  } }, "+ Add a time");
  const syncButtons = () => {
    addTime.disabled = list.children.length >= MAX_DIGESTS;
    [...list.children].forEach((rowEl, i) => { // "Digest time 2", "Remove digest time 2": each named for a screen reader
      rowEl.querySelector("input").setAttribute("aria-label", `Digest time ${i + 1}`);
      const remove = rowEl.querySelector("button");
      remove.setAttribute("aria-label", `Remove digest time ${i + 1}`);
      remove.disabled = list.children.length <= 1;
    });
  };
  list.addEventListener("change", syncButtons);
  syncButtons();

  const time = (name, value, label) => h("label", { class: "inline" }, label,
    h("input", { type: "time", name, value, dataset: { field: "quiet_hours" }, "aria-describedby": "error-quiet_hours" }));
  const form = h("form", { id: "notify-form", class: "card", novalidate: true },
    h("h2", {}, "Notifications"),
    statusLine(settings),
    h("fieldset", {}, h("legend", {}, "Digest times"),
      h("p", { class: "hint" }, "News waits for the next digest, so nothing interrupts you in between. Up to 6 a day."),
      list, addTime, fieldError("digest_times")),
    h("fieldset", {}, h("legend", {}, "Quiet hours"),
      h("div", { class: "time-pair" }, time("quiet_start", settings.quiet_hours.start, "From"), time("quiet_end", settings.quiet_hours.end, "to")),
      h("p", { class: "hint" }, "Nothing arrives then, not even urgent items. The same time twice means none."),
      fieldError("quiet_hours")),
    h("fieldset", { class: "chips" }, h("legend", {}, "Quiet days"),
      DAYS.map((day, i) => h("label", {}, h("input", { type: "checkbox", name: "quiet_days", value: String(i + 1),
        checked: settings.quiet_days.includes(i + 1), dataset: { field: "quiet_days" } }), h("span", {}, day))),
      fieldError("quiet_days")),
    h("label", { class: "switch" }, h("input", { type: "checkbox", name: "push_enabled", checked: settings.push_enabled }),
      h("span", {}, "Send digests to my devices")),
    fieldError("push_enabled"),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("button", { type: "submit", class: "button primary wide" }, "Save notification settings"));

  form.onsubmit = async (event) => {
    event.preventDefault();
    showFormError(form, "");
    showFieldErrors(form, null);
    const body = {
      digest_times: [...list.querySelectorAll("input")].map((input) => input.value),
      quiet_hours: { start: form.quiet_start.value, end: form.quiet_end.value },
      quiet_days: [...form.querySelectorAll('input[name="quiet_days"]:checked')].map((box) => Number(box.value)),
      push_enabled: form.push_enabled.checked,
    };
    try {
      const saved = await patch("/me/notification-settings", body);
      toast(saved.next_digest ? `Saved. Next digest: ${saved.next_digest}.` : "Saved.");
      onSaved(saved);
    } catch (error) {
      const first = error.status === 422 && showFieldErrors(form, error.body?.errors?.json);
      if (first) {
        form.querySelector('[aria-invalid="true"]')?.focus();
      } else {
        showFormError(form, error.offline ? "Settings need a connection; try again when you are online." : error.message);
      }
    }
  };
  return form;
}

/** Push on this device: the button that asks for permission, a test, and turning it off. */
export function deviceCard() {
  const card = h("section", { class: "card", id: "push-card", "aria-labelledby": "push-title" });
  const userId = session.user.id;
  const busy = (button, work) => async () => {
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      toast(error.offline ? "That needs a connection." : error.message || "That did not work on this device.");
    }
    button.disabled = false;
    await show();
  };
  async function show() {
    const support = pushSupport();
    const parts = [h("h2", { id: "push-title" }, "On this device")];
    if (support === "ios-home-screen") {
      parts.push(h("p", {}, "On iPhone and iPad, Plate can notify you only once it is on your Home Screen: tap Share, then “Add to Home Screen”, and open Plate from there."));
    } else if (support === "unsupported") {
      parts.push(h("p", {}, "This browser cannot show notifications. Your inbox still collects everything."));
    } else if (support === "denied") {
      parts.push(h("p", {}, "Notifications are blocked for Plate in this browser's settings. Allow them there, then come back."));
    } else if (Notification.permission === "granted" && await currentSubscription()) {
      const test = h("button", { type: "button", class: "button" }, "Send a test");
      test.onclick = busy(test, async () => {
        const { devices, delivered } = await sendTest();
        toast(devices ? `Sent to ${delivered} of ${devices} device${devices === 1 ? "" : "s"}.` : "No device is registered yet.");
      });
      const off = h("button", { type: "button", class: "button danger-outline" }, "Turn off");
      off.onclick = busy(off, () => turnOff(userId));
      parts.push(h("p", {}, "Digests arrive on this device."), h("div", { class: "row-actions" }, test, off));
    } else {
      const on = h("button", { type: "button", class: "button primary wide" }, "Turn on notifications");
      on.onclick = busy(on, async () => {
        const answer = await turnOn(userId);
        if (answer !== "granted") toast("Notifications stay off: the browser was not allowed to show them.");
      });
      parts.push(h("p", {}, "Get your digests on this device. Your inbox keeps them either way."), on);
    }
    card.replaceChildren(...parts);
  }
  show();
  return card;
}
