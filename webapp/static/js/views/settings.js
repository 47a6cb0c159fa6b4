// Settings: your name, time zone and password; notifications; and logging out of this device.
import { patch } from "../api.js";
import { browserTimeZone } from "../format.js";
import { loadSession, logOut, session } from "../store.js";
import { errorText, h, showFormError, timeZoneOptions, toast } from "../ui.js";
import { deviceCard, loadNotificationSettings, notificationForm } from "./notify.js";

/** The notifications card, or why it is missing (the settings are read through the API, offline too). */
function notificationsCard(view) {
  if (view.notify) {
    return notificationForm(view.notify, (saved) => {
      view.notify = saved;
      document.getElementById("notify-form").replaceWith(notificationsCard(view));
    });
  }
  return h("section", { class: "card", id: "notify-form" }, h("h2", {}, "Notifications"),
    h("p", { class: "hint" }, view.notifyError?.offline ? "Notification settings need a connection." : "Notification settings could not be loaded."));
}

export function settingsView() {
  const view = {
    title: "Settings",
    notify: null,
    notifyError: null,
    async load() {
      try {
        view.notify = await loadNotificationSettings();
        view.notifyError = null;
      } catch (error) {
        view.notifyError = error;
      }
    },
    render(main) {
      if (main.querySelector("#profile-form")) { // keep what is being typed; refresh only what it did not show yet
        if (view.notify && !main.querySelector("form#notify-form")) main.querySelector("#notify-form").replaceWith(notificationsCard(view));
        return;
      }
      const me = session.user;
      const zone = h("select", { id: "settings-zone", name: "time_zone" });
      timeZoneOptions(zone, me.time_zone);
      const profile = h("form", { id: "profile-form", class: "card", novalidate: true },
        h("h2", {}, "You"),
        h("label", { for: "settings-name" }, "Name"),
        h("input", { id: "settings-name", name: "name", value: me.name, required: true, maxlength: "200", autocomplete: "name" }),
        h("label", { for: "settings-zone" }, "Time zone"), zone,
        me.time_zone !== browserTimeZone() ? h("p", { class: "hint" }, `This device is set to ${browserTimeZone()}.`) : "",
        h("p", { class: "form-error", role: "alert", hidden: true }),
        h("button", { type: "submit", class: "button primary wide" }, "Save"));
      profile.onsubmit = async (event) => {
        const before = session.user.time_zone;
        if (await save(event, profile, { name: profile.name.value.trim(), time_zone: zone.value }, "Saved.")
            && session.user.time_zone !== before) {
          await view.load(); // local time and the next digest follow the new zone
          main.querySelector("#notify-form").replaceWith(notificationsCard(view));
        }
      };

      const password = h("form", { id: "password-form", class: "card", novalidate: true },
        h("h2", {}, "Password"),
        h("input", { type: "email", name: "username", value: me.email, autocomplete: "username", hidden: true }),
        h("label", { for: "current-password" }, "Current password"),
        h("input", { id: "current-password", name: "current_password", type: "password", autocomplete: "current-password", required: true }),
        h("label", { for: "new-password" }, "New password (10 characters or more; not your email or a common password)"),
        h("input", { id: "new-password", name: "password", type: "password", autocomplete: "new-password", minlength: "10", required: true }),
        h("p", { class: "form-error", role: "alert", hidden: true }),
        h("button", { type: "submit", class: "button wide" }, "Change password"));
      password.onsubmit = (event) => save(event, password,
        { current_password: password.current_password.value, password: password.password.value },
        "Password changed. Other devices are logged out.");

      main.replaceChildren(profile, notificationsCard(view), deviceCard(), password,
        h("section", { class: "card" },
          h("p", {}, `Logged in as ${me.email} · ${me.organization?.name || ""}`),
          h("button", { type: "button", class: "button danger-outline wide", id: "logout", onclick: logOut }, "Log out of this device")));
    },
  };
  return view;
}

async function save(event, form, body, message) {
  event.preventDefault();
  showFormError(form, "");
  try {
    session.user = await patch("/me", body);
    toast(message);
    if (form.id === "password-form") {
      form.reset();
      await loadSession(); // a new password starts a new session, with a new CSRF token
    }
    return true;
  } catch (error) {
    showFormError(form, error.offline ? "Settings need a connection; try again when you are online." : errorText(error));
    return false;
  }
}
