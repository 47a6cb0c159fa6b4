// Small DOM helpers: building elements, sheets (dialogs), the toast and banners.

/** h("li", {class: "x", onclick}, child, "text") — attributes starting with "on" become listeners;
 *  style is an object set through the CSSOM (the Content-Security-Policy refuses style attributes). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function openSheet(dialog) {
  if (!dialog.open) dialog.showModal();
  dialog.querySelectorAll("[data-close]").forEach((button) => { button.onclick = () => dialog.close(); });
  // A tap on the backdrop closes the sheet, as on native bottom sheets.
  dialog.onclick = (event) => { if (event.target === dialog) dialog.close(); };
}

export function showFormError(form, message) {
  const box = form.querySelector(".form-error");
  box.textContent = message || "";
  box.hidden = !message;
}

/**
 * The app's drop sheet for an item titled `title`: it insists on a reason, then calls
 * `send(reason, sheet)`; `send` closes the sheet, or keeps it open with `sheet.fail(message)`.
 */
export function askDropReason(title, send) {
  const dialog = document.getElementById("drop-sheet");
  const form = dialog.querySelector("form");
  form.reset();
  showFormError(form, "");
  dialog.querySelector("[data-drop-item]").textContent = title;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const reason = form.drop_reason.value.trim();
    if (!reason) {
      showFormError(form, "Say why, so whoever asked for it knows.");
      form.drop_reason.focus();
      return;
    }
    await send(reason, { close: () => dialog.close(), fail: (message) => showFormError(form, message) });
  };
  openSheet(dialog);
  form.drop_reason.focus();
}

/** The message of an API error, naming the rejected fields. */
export function errorText(error) {
  const fields = error.body?.errors?.json;
  if (fields && typeof fields === "object") {
    return Object.entries(fields).map(([name, messages]) => `${name.replace("_", " ")}: ${[].concat(messages).join(" ")}`).join(" ");
  }
  return error.message;
}

let toastTimer = null;

/** A short message at the bottom; with an action (e.g. Undo) it stays a little longer. */
export function toast(message, action) {
  const box = document.getElementById("toast");
  box.replaceChildren(h("span", {}, message));
  if (action) {
    box.append(h("button", { type: "button", class: "toast-action", onclick: () => { hideToast(); action.run(); } }, action.label));
  }
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, action ? 6000 : 3000);
}

export function hideToast() {
  document.getElementById("toast").hidden = true;
}

/** A banner at the top, replaced by the next one with the same key. */
export function banner(key, content, tone = "info") {
  const area = document.getElementById("banners");
  area.querySelector(`[data-banner="${key}"]`)?.remove();
  if (!content) return;
  area.append(h("div", { class: `banner ${tone}`, dataset: { banner: key } }, content));
}

/** Fill a <select> with the IANA zones this browser knows, `current` selected. */
export function timeZoneOptions(select, current) {
  const zones = Intl.supportedValuesOf?.("timeZone") || [current];
  if (!zones.includes(current)) zones.unshift(current);
  select.replaceChildren(...zones.map((zone) => h("option", { value: zone, selected: zone === current }, zone.replaceAll("_", " "))));
}
