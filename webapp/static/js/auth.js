// Log in, sign up, accept an invitation, log out: the pages before (and after) a session.
import { get, post } from "./api.js";
import { browserTimeZone } from "./format.js";
import { endPendingLogout, forgetPendingLogout, loadSession, logOut } from "./store.js";
import { errorText, h, showFormError, timeZoneOptions } from "./ui.js";

const main = document.getElementById("main");
const form = document.getElementById("auth-form");

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

const submitters = {
  login: () => post("/session", { email: form.email.value.trim(), password: form.password.value }),
  signup: () => post("/organizations", {
    name: form.organization.value.trim(),
    admin: { name: form.name.value.trim(), email: form.email.value.trim(), password: form.password.value, time_zone: form.time_zone.value },
  }),
  invite: () => post(`/invitations/${encodeURIComponent(main.dataset.token)}/accept`, {
    ...(form.name.value.trim() ? { name: form.name.value.trim() } : {}),
    password: form.password.value, time_zone: form.time_zone.value,
  }),
};

// A logout made offline ends the server's session first; a login waits for it, or its answer could clear the new cookie.
const pendingLogout = main.dataset.view === "logout" ? Promise.resolve() : endPendingLogout().catch(() => false);

// Installing the worker here already makes the app installable and its shell available offline.
navigator.serviceWorker?.register("/sw.js", { scope: "/" }).catch(() => {});

/** Who invited you to which team, or, up front, that the link no longer works. */
async function previewInvitation() {
  const lead = document.getElementById("invite-preview");
  try {
    const invitation = await get(`/invitations/${encodeURIComponent(main.dataset.token)}`);
    lead.replaceChildren(h("strong", {}, invitation.invited_by.name), ` invited you (${invitation.email}) to `,
      h("strong", {}, invitation.organization.name), ". Set a password to see your plate and what they add to it.");
    if (!form.name.value) form.name.value = invitation.name;
  } catch (error) {
    if (error.status !== 404 && error.status !== 410) return; // offline or a hiccup: joining may still work
    form.hidden = true;
    lead.replaceChildren(error.status === 410
      ? "This invitation has expired or was already used. Ask whoever invited you for a new link."
      : "This invitation link is not valid. Check that you opened the whole link, or ask for a new one.");
    lead.append(" Already have an account? ", h("a", { href: "/login" }, "Log in"), ".");
  }
}

if (form) {
  if (main.dataset.view === "invite") previewInvitation();
  form.querySelectorAll("[data-time-zone]").forEach((select) => timeZoneOptions(select, browserTimeZone()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const invalid = [...form.elements].find((field) => field.willValidate && !field.checkValidity());
    if (invalid) {
      showFormError(form, `${form.querySelector(`label[for="${invalid.id}"]`)?.textContent.split("(")[0].trim()}: ${invalid.validationMessage}`);
      invalid.focus();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await pendingLogout;
      await submitters[main.dataset.view]();
      forgetPendingLogout(); // this new session is not the one to end
      location.replace(main.dataset.view === "login" ? nextPage() : "/");
    } catch (error) {
      const text = error.offline ? "You are offline. Try again when you have a connection."
        : error.status === 401 ? "That email and password do not match an account."
        : error.status === 410 || error.status === 404 ? error.message : errorText(error);
      showFormError(form, text);
      button.disabled = false;
    }
  });
} else if (main.dataset.view === "logout") {
  loadSession().catch(() => null).finally(logOut);
}
