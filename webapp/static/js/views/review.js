// "Still needed?": old or long-overdue open items, each kept with a new due date or dropped with a reason.
import { get, post } from "../api.js";
import { presetDate, shortDate, todayIn } from "../format.js";
import { session, zoneOf } from "../store.js";
import { askDropReason, errorText, h, showFormError, toast } from "../ui.js";

/** Tell the navigation badge how many wait for review (app.js listens). */
export function announceReview(count) {
  window.dispatchEvent(new CustomEvent("plate:review", { detail: count }));
}

export function reviewView() {
  const view = {
    title: "Still needed?",
    back: "/",
    entries: null,
    error: null,

    async load() {
      try {
        const data = await get("/review");
        view.entries = data.items;
        view.error = null;
        announceReview(data.count);
      } catch (error) {
        view.error = error;
      }
    },

    settle(entry, message) {
      view.entries = view.entries.filter((other) => other.item.id !== entry.item.id);
      announceReview(view.entries.length);
      toast(message);
      window.dispatchEvent(new CustomEvent("plate:rerender"));
    },

    render(main) {
      if (!view.entries) {
        main.replaceChildren(h("p", { class: "empty" }, view.error?.offline
          ? "You are offline and this list has not been opened on this device yet." : view.error?.message || "Loading…"));
        return;
      }
      main.replaceChildren(
        h("p", { class: "hint" }, view.entries.length
          ? "Open items that have waited a long time. Keep each with a new due date, or drop it: dropping what stopped mattering is good prioritizing."
          : ""),
        view.entries.length ? h("ul", { class: "review" }, view.entries.map((entry) => // a card kept keeps what is typed in it
          main.querySelector(`.review-card[data-id="${entry.item.id}"]`) || card(view, entry)))
          : h("div", { class: "empty" }, h("p", {}, "Nothing to review."), h("p", { class: "hint" }, "Items show up here when they wait too long or stay overdue for a week.")));
    },
  };
  return view;
}

function reasons(entry) {
  return entry.reasons.map((reason) => (reason === "overdue"
    ? h("span", { class: "due overdue" }, `${entry.overdue_days} days overdue`)
    : h("span", { class: "badge" }, `open ${entry.age_days} days`)));
}

function card(view, entry) {
  const { item } = entry;
  const zone = zoneOf(item.owner.id);
  const keepForm = h("form", { class: "keep", novalidate: true },
    h("label", { for: `keep-${item.id}` }, "New due date"),
    h("div", { class: "keep-row" },
      h("input", { id: `keep-${item.id}`, name: "due_on", type: "date", min: todayIn(zone), value: presetDate("next-week", zone), required: true }),
      h("button", { type: "submit", class: "button primary small" }, "Keep")),
    h("p", { class: "form-error", role: "alert", hidden: true }));
  keepForm.onsubmit = async (event) => {
    event.preventDefault();
    const dueOn = keepForm.due_on.value;
    if (!dueOn) {
      showFormError(keepForm, "When should it be done now?");
      return;
    }
    try {
      await post(`/review/${item.id}/keep`, { due_on: dueOn });
      view.settle(entry, `Kept: ${item.title}, due ${shortDate(dueOn)}`);
    } catch (error) {
      showFormError(keepForm, error.offline ? "Keeping needs a connection." : errorText(error));
    }
  };
  const mine = item.owner.id === session.user.id;
  return h("li", { class: "card review-card", dataset: { id: item.id } },
    h("a", { class: "item-main", href: `/items/${item.id}` },
      h("span", { class: "item-title" }, item.title),
      h("span", { class: "item-meta" }, ...reasons(entry), mine ? "" : h("span", {}, `${item.owner.name}'s plate`))),
    keepForm,
    h("button", { type: "button", class: "button small danger-outline", onclick: () => dropIt(view, entry) }, "Drop…"));
}

/** The app's drop sheet, sending the reason to the review endpoint (a "no longer needed" drop). */
function dropIt(view, entry) {
  askDropReason(entry.item.title, async (reason, sheet) => {
    try {
      await post(`/review/${entry.item.id}/drop`, { reason });
      sheet.close();
      view.settle(entry, `Dropped: ${entry.item.title}`);
    } catch (error) {
      sheet.fail(error.offline ? "Dropping from here needs a connection." : errorText(error));
    }
  });
}
