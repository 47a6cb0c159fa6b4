// Team: everyone below you with open, high-priority and overdue counts and their local time; invite people.
import { post } from "../api.js";
import { clockIn } from "../format.js";
import { loadPeople, peopleBelow, session } from "../store.js";
import { errorText, h, showFormError } from "../ui.js";

export function teamView() {
  const view = {
    title: "Team",
    async load() {
      await loadPeople().catch(() => {}); // each row counts open, high-priority and overdue items
    },
    render(main) {
      const team = peopleBelow(session.user.id);
      main.replaceChildren(
        team.length
          ? h("ul", { class: "team" }, team.map(row))
          : h("div", { class: "empty" }, h("p", {}, "No one reports to you yet."),
              h("p", { class: "hint" }, "Invite your team below; they will see their plate and what you add to it.")),
        main.querySelector("#invite-form") || inviteForm(), // keep what is being typed
      );
    },
  };
  return view;
}

function count(value, label, tone) {
  return h("span", { class: `count-pill ${tone}${value ? "" : " zero"}` }, h("strong", {}, value ?? "–"), ` ${label}`);
}

function row(p) {
  return h("li", { class: `team-row depth-${Math.min(p.depth, 3)}` },
    h("a", { href: `/people/${p.id}` },
      h("span", { class: "team-name" }, p.name,
        h("span", { class: "team-time" }, `${clockIn(p.time_zone)} · ${p.time_zone.split("/").pop().replace("_", " ")}`)),
      h("span", { class: "team-counts" },
        count(p.open_items, "open", "open"), count(p.high_items, "high", "high"), count(p.overdue_items, "overdue", "overdue"))));
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
