// A person's record for a period: what they finished, on time or not, and a weekly chart of it.
import { get } from "../api.js";
import { addDays, shortDate, todayIn } from "../format.js";
import { person, session, zoneOf } from "../store.js";
import { h } from "../ui.js";

/** The quarter holding `isoDate`, `shift` quarters away: {from, to}. */
export function quarter(isoDate, shift = 0) {
  const [year, month] = isoDate.split("-").map(Number);
  const index = year * 4 + Math.floor((month - 1) / 3) + shift;
  const start = (y, q) => `${y}-${String(q * 3 + 1).padStart(2, "0")}-01`;
  const from = start(Math.floor(index / 4), index % 4);
  const to = addDays(start(Math.floor((index + 1) / 4), (index + 1) % 4), -1);
  return { from, to };
}

const PERIODS = [["this", "This quarter"], ["last", "Last quarter"], ["custom", "Custom"]];

export function recordView(personId) {
  const mine = personId === session.user.id;
  const today = todayIn(zoneOf(personId));
  const params = new URLSearchParams(location.search);
  const presets = { this: quarter(today), last: quarter(today, -1) };
  let period = { from: params.get("from") || presets.this.from, to: params.get("to") || presets.this.to };
  const view = {
    data: null,
    error: null,
    get title() {
      if (mine) return "My record";
      const name = view.data?.person?.name || person(personId)?.name;
      return name ? `${name.split(" ")[0]}'s record` : "Record";
    },
    back: mine ? "/" : `/people/${personId}`,
    ownerId: personId,

    async load() {
      try {
        view.data = await get(`/people/${personId}/record?from=${period.from}&to=${period.to}`);
        view.error = null;
      } catch (error) {
        view.data = null;
        view.error = error;
      }
    },

    render(main) {
      const kind = Object.keys(presets).find((key) => presets[key].from === period.from && presets[key].to === period.to) || "custom";
      const choose = async (next) => {
        period = next;
        history.replaceState(null, "", `${location.pathname}?from=${next.from}&to=${next.to}`);
        main.setAttribute("aria-busy", "true");
        await view.load();
        window.dispatchEvent(new CustomEvent("plate:rerender"));
      };
      const shown = main.querySelector(".period"); // kept while its period stands: it may hold a custom range being typed
      const pickerNode = shown?.dataset.period === `${period.from}/${period.to}` ? shown : picker(kind, period, presets, choose);
      main.replaceChildren(pickerNode, ...(view.data ? record(view.data, personId) : [problem(view.error)]));
    },
  };
  return view;
}

function picker(kind, period, presets, choose) {
  const custom = h("form", { class: "period-custom", hidden: kind !== "custom", novalidate: true },
    h("label", { class: "inline" }, "From", h("input", { type: "date", name: "from", value: period.from, required: true })),
    h("label", { class: "inline" }, "To", h("input", { type: "date", name: "to", value: period.to, required: true })),
    h("button", { type: "submit", class: "button small" }, "Show"));
  custom.onsubmit = (event) => {
    event.preventDefault();
    if (custom.from.value && custom.to.value) choose({ from: custom.from.value, to: custom.to.value });
  };
  return h("div", { class: "card period", dataset: { period: `${period.from}/${period.to}` } },
    h("fieldset", { class: "segmented modes" }, h("legend", { class: "visually-hidden" }, "Period"),
      PERIODS.map(([value, label]) => h("label", {},
        h("input", { type: "radio", name: "period", value, checked: kind === value,
                     onchange: () => (value === "custom" ? (custom.hidden = false, custom.from.focus()) : choose(presets[value])) }),
        h("span", {}, label)))),
    custom,
    h("p", { class: "hint period-range" }, `${longDate(period.from)} – ${longDate(period.to)}`));
}

const longDate = (iso) => `${shortDate(iso)} ${iso.slice(0, 4)}`;

function problem(error) {
  if (!error) return h("p", { class: "empty" }, "Loading…");
  const text = error.offline ? "You are offline and this record has not been opened on this device yet."
    : error.status === 403 ? "Only this person and their managers can see their record."
      : error.status === 422 ? `That period does not work: ${error.message}` : error.message;
  return h("p", { class: "empty" }, text);
}

function stat(value, label, tone = "") {
  return h("div", { class: `stat ${tone}` }, h("strong", {}, value ?? "–"), h("span", {}, label));
}

function record(data, personId) {
  const s = data.summary;
  const query = `from=${data.period.from}&to=${data.period.to}`;
  const days = s.median_days_to_done;
  const median = days == null ? "–" : days < 1 ? "<1 d" : `${Math.round(days * 10) / 10} d`;
  return [
    h("section", { class: "card", "aria-label": "Summary" },
      h("div", { class: "stats", id: "record-summary" },
        stat(s.done, "done"), stat(s.done_on_time, "on time", "good"), stat(s.done_late, "late", s.done_late ? "bad" : ""),
        stat(s.dropped, "dropped"), stat(s.dropped_no_longer_needed, "no longer needed"), stat(median, "median to done")),
      h("p", { class: "hint" }, `${s.added_by_self} added by ${personId === session.user.id ? "me" : "themselves"}, ${s.added_by_others} by others.`)),
    h("section", { class: "card" }, h("h2", {}, "Done per week"), chart(data.weekly_done)),
    h("section", { class: "card" },
      h("h2", {}, `Finished (${data.items.length})`),
      data.items.length ? h("ul", { class: "record-items" }, data.items.map((item) => row(item, data.person.id)))
        : h("p", { class: "hint" }, "Nothing finished in this period."),
      h("div", { class: "row-actions" },
        h("a", { class: "button small", href: `/people/${personId}/record.csv?${query}`, download: "" }, "Download CSV"),
        h("a", { class: "button small", href: `/people/${personId}/record/print?${query}`, target: "_blank" }, "Print view"))),
  ];
}

/** Bars of items done per week, as inline SVG: scales to any width, no chart library. */
export function chart(weeks) {
  const most = Math.max(1, ...weeks.map((w) => w.done));
  const busiest = weeks.reduce((a, w) => (w.done > (a?.done ?? -1) ? w : a), null);
  const width = Math.max(weeks.length * 10, 100);
  const height = 60;
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, ...children) => {
    const node = document.createElementNS(NS, tag);
    Object.entries(attrs).forEach(([key, value]) => node.setAttribute(key, value));
    node.append(...children);
    return node;
  };
  const slot = width / Math.max(weeks.length, 1);
  const bars = weeks.map((w, i) => {
    const barHeight = (w.done / most) * (height - 4);
    return svg("rect", { x: (i * slot + slot * 0.15).toFixed(2), y: (height - barHeight).toFixed(2), width: (slot * 0.7).toFixed(2),
                         height: Math.max(barHeight, w.done ? 1 : 0).toFixed(2), rx: 1.5, class: "bar" },
      svg("title", {}, `Week of ${shortDate(w.week_start)}: ${w.done} done`));
  });
  const label = weeks.length
    ? `Items done per week, ${weeks.length} weeks; most in the week of ${shortDate(busiest.week_start)}: ${busiest.done}.`
    : "No weeks in this period.";
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${width} ${height + 1}`, preserveAspectRatio: "none", role: "img", "aria-label": label, id: "weekly-chart" },
      svg("line", { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, class: "axis" }), ...bars),
    h("figcaption", { class: "chart-axis" },
      h("span", {}, weeks.length ? shortDate(weeks[0].week_start) : ""), h("span", {}, busiest?.done ? `busiest week: ${busiest.done} done` : "none done yet"),
      h("span", {}, weeks.length ? shortDate(weeks.at(-1).week_start) : "")));
}

function row(item, personId) {
  const date = item.status === "done" ? item.completed_at : item.dropped_at;
  const fromSomeoneElse = item.created_by && item.created_by.id !== personId;
  return h("li", { class: "record-item" },
    h("a", { href: `/items/${item.id}` }, h("span", { class: "item-title" }, item.title)),
    h("span", { class: "item-meta" },
      item.status === "dropped" ? h("span", { class: "badge" }, "dropped")
        : item.on_time === false ? h("span", { class: "badge late" }, "late")
          : item.on_time ? h("span", { class: "badge status-done" }, "on time") : h("span", { class: "badge status-done" }, "done"),
      item.priority === "high" ? h("span", { class: "badge prio-high" }, "high") : "",
      date ? h("time", { datetime: date }, shortDate(todayIn(zoneOf(personId), new Date(date)))) : "",
      fromSomeoneElse ? h("span", {}, `from ${item.created_by.name.split(" ")[0]}`) : "",
      item.drop_reason ? h("span", {}, `“${item.drop_reason}”`) : ""));
}
