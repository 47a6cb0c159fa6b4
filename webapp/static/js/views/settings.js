// Settings: your name, time zone and password; and logging out of this device.
import { patch } from "../api.js";
import { browserTimeZone } from "../format.js";
import { loadSession, logOut, session } from "../store.js";
import { errorText, h, showFormError, toast } from "../ui.js";

export function timeZoneOptions(select, current) {
  const zones = Intl.supportedValuesOf?.("timeZone") || [current];
  if (!zones.includes(current)) zones.unshift(current);
  select.replaceChildren(...zones.map((zone) => h("option", { value: zone, selected: zone === current }, zone.replaceAll("_", " "))));
}

export function settingsView() {
  return {
    title: "Settings",
    load: async () => {},
    render(main) {
      if (main.querySelector("#profile-form")) return; // keep what is being typed
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
      profile.onsubmit = (event) => save(event, profile, { name: profile.name.value.trim(), time_zone: zone.value }, "Saved.");

      const password = h("form", { id: "password-form", class: "card", novalidate: true },
        h("h2", {}, "Password"),
        h("input", { type: "email", name: "username", value: me.email, autocomplete: "username", hidden: true }),
        h("label", { for: "current-password" }, "Current password"),
        h("input", { id: "current-password", name: "current_password", type: "password", autocomplete: "current-password", required: true }),
        h("label", { for: "new-password" }, "New password (10 characters or more)"),
        h("input", { id: "new-password", name: "password", type: "password", autocomplete: "new-password", minlength: "10", required: true }),
        h("p", { class: "form-error", role: "alert", hidden: true }),
        h("button", { type: "submit", class: "button wide" }, "Change password"));
      password.onsubmit = (event) => save(event, password,
        { current_password: password.current_password.value, password: password.password.value },
        "Password changed. Other devices are logged out.");

      main.replaceChildren(profile, password,
        h("section", { class: "card" },
          h("p", {}, `Logged in as ${me.email} · ${me.organization?.name || ""}`),
          h("button", { type: "button", class: "button danger-outline wide", id: "logout", onclick: logOut }, "Log out of this device")));
    },
  };
}

async function save(event, form, body, message) {
  event.preventDefault();
  showFormError(form, "");
  try {
    session.user = await patch("/me", body);
    toast(message);
    if (form.id === "password-form") {
      form.reset();
      await loadSession(); // a new password starts a new session with a new CSRF token
    }
  } catch (error) {
    showFormError(form, error.offline ? "Settings need a connection; try again when you are online." : errorText(error));
  }
}
