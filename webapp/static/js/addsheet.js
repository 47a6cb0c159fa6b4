// The Add sheet: one tap from every page; adding to someone else's plate shows what is already on it.
import { dueLabel, presetDate } from "./format.js";
import { applyPending, enqueue, pending } from "./outbox.js";
import { addableOwners, peopleBelow, person, session, zoneOf } from "./store.js";
import { h, openSheet, showFormError, toast } from "./ui.js";
import { openItems } from "./views/plate.js";

const PRIORITIES = ["high", "normal", "low"]; // the order of the plate's groups
const sheet = () => document.getElementById("add-sheet");
const asking = (form) => form.querySelector('input[name="mode"]:checked')?.value === "team";

/** Open the sheet for an owner's plate, or (askTeam) for a request to the whole team. */
export async function openAddSheet(ownerId, { askTeam = false } = {}) {
  const dialog = sheet();
  const form = dialog.querySelector("form");
  form.reset();
  showFormError(form, "");
  // Only people with reports can ask a team, so only they load that part of the sheet.
  const ask = peopleBelow(session.user.id).length ? await import("./asksheet.js") : null;
  form.querySelector("#add-mode").hidden = !ask;
  const showMode = () => {
    const mode = asking(form) ? "team" : "one";
    form.querySelectorAll("[data-mode]").forEach((node) => { node.hidden = node.dataset.mode !== mode; });
    form.querySelector("#add-title").textContent = mode === "team" ? "Ask my team" : "Add to a plate";
    form.querySelector("#add-submit").textContent = mode === "team" ? ask.submitLabel(form) : "Add";
    showPlacement(form);
  };
  ask?.prepareAsk(form, askTeam, showMode);
  const owners = addableOwners();
  const preferred = owners.some((o) => o.id === ownerId) ? ownerId : session.user.id;
  form.owner_id.replaceChildren(...owners.map((o) => h("option", { value: o.id, selected: o.id === preferred }, o.label)));
  form.owner_id.onchange = () => showPlacement(form);
  form.priority.forEach?.((radio) => { radio.onchange = () => showPlacement(form, false); });
  dialog.querySelectorAll('input[name="due"]').forEach((radio) => {
    radio.onchange = () => {
      const pick = form.due.value === "pick";
      dialog.querySelector("#add-due-pick").hidden = !pick;
      if (pick) form.due_on.focus();
    };
  });
  dialog.querySelector("#add-due-pick").hidden = true;
  form.onsubmit = (event) => {
    if (!asking(form)) return submit(event, form);
    event.preventDefault();
    return ask.submitAsk(form);
  };
  showMode();
  openSheet(dialog);
  form.title.focus();
}

let placementFor = null;
let placementItems = [];

/**
 * Someone else's plate: list their open items so the new one is placed among them, deliberately.
 * The plate shows each priority as a group, so the choices are the places inside the chosen priority's
 * group; a place beside an item of another priority would not show where the person put it.
 */
async function showPlacement(form, reload = true) {
  const ownerId = Number(form.owner_id.value);
  const box = form.querySelector("#add-placement");
  if (ownerId === session.user.id || asking(form)) {
    box.hidden = true;
    placementFor = null;
    return;
  }
  box.hidden = false;
  const firstName = person(ownerId)?.name.split(" ")[0];
  box.querySelector("[data-owner-name]").textContent = firstName ? `${firstName}'s` : "their";
  const list = box.querySelector("[data-placement-list]");
  const others = box.querySelector("[data-placement-others]");
  if (reload || placementFor !== ownerId) {
    placementFor = ownerId;
    others.textContent = "";
    list.replaceChildren(h("p", { class: "hint" }, "Loading their plate…"));
    try {
      const plate = await openItems(ownerId);
      if (placementFor !== ownerId) return;
      placementItems = applyPending(plate.items, await pending(), { ownerId, status: "open" });
    } catch (error) {
      placementItems = [];
      list.replaceChildren(h("p", { class: "hint" }, "Their plate is not available offline; it goes where its priority puts it."));
      return;
    }
  }
  const priority = form.querySelector('input[name="priority"]:checked').value;
  box.querySelector("[data-placement-priority]").textContent = priority;
  const group = placementItems.filter((item) => item.priority === priority);
  const option = (value, label, extra, checked = false) => h("label", { class: "slot" },
    h("input", { type: "radio", name: "placement", value, checked }), h("span", {}, label, extra || ""));
  const zone = zoneOf(ownerId);
  const rows = group.map((item) => {
    const due = dueLabel(item.due_on, zone);
    const details = [item.urgent ? "urgent" : "", due ? due.text : ""].filter(Boolean).join(" · ");
    return option(`before:${item.id}`, `Above “${item.title}”`, details ? h("small", {}, ` ${details}`) : "");
  });
  // In plate order, each choice a place in the group; the default (below them all) is where the server puts it.
  list.replaceChildren(...rows, group.length
    ? option("", `Below the other ${priority} items`, h("small", {}, " · where its priority puts it"), true)
    : option("", `Where ${priority} priority puts it`, h("small", {}, ` · no other ${priority} items there`), true));
  others.textContent = otherGroups(placementItems, priority);
}

/** "Also on the plate: 2 high above, 4 low below." — the groups the new item is not placed among. */
function otherGroups(items, priority) {
  const counts = PRIORITIES.filter((p) => p !== priority)
    .map((p) => [p, items.filter((item) => item.priority === p).length]).filter(([, n]) => n);
  const rank = (p) => PRIORITIES.indexOf(p);
  const words = counts.map(([p, n]) => `${n} ${p} ${rank(p) < rank(priority) ? "above" : "below"}`);
  return words.length ? `Also on the plate: ${words.join(", ")}.` : "";
}

async function submit(event, form) {
  event.preventDefault();
  const title = form.title.value.trim();
  if (!title) {
    showFormError(form, "What needs doing?");
    form.title.focus();
    return;
  }
  const ownerId = Number(form.owner_id.value);
  const preset = form.due.value;
  const dueOn = preset === "pick" ? form.due_on.value || null : presetDate(preset, zoneOf(ownerId));
  const body = { owner_id: ownerId, title, priority: form.querySelector('input[name="priority"]:checked').value,
                 urgent: form.urgent.checked };
  if (dueOn) body.due_on = dueOn;
  if (form.notes.value.trim()) body.notes = form.notes.value;
  const placement = form.querySelector('input[name="placement"]:checked')?.value;
  if (ownerId !== session.user.id && placement) {
    const [where, id] = placement.split(":");
    body[where === "before" ? "before_id" : "after_id"] = /^\d+$/.test(id) ? Number(id) : id;
  }
  const owner = person(ownerId);
  sheet().close();
  await enqueue({ kind: "add", body, owner: { id: ownerId, name: owner?.name || "" },
                  createdBy: { id: session.user.id, name: session.user.name } });
  toast(ownerId === session.user.id ? "Added to your plate." : `Added to ${owner?.name.split(" ")[0]}'s plate.`);
}
