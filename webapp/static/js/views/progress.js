// A team request's progress, as a bar and in words; on the request page and in the Team page's list.
import { h } from "../ui.js";

/** "3 of 5 done · 1 overdue" (dropped items count as finished, and say so). */
export function progressText(request) {
  const { open, done, dropped } = request.counts;
  const parts = [`${done} of ${open + done + dropped} done`];
  if (dropped) parts.push(`${dropped} dropped`);
  if (request.overdue) parts.push(`${request.overdue} overdue`);
  return parts.join(" · ");
}

/** The bar: done, then dropped, then open (overdue open in red). */
export function progressBar(request) {
  const { open, done, dropped } = request.counts;
  const total = open + done + dropped || 1;
  const overdue = Math.min(request.overdue || 0, open);
  const part = (tone, n) => (n ? h("span", { class: tone, style: { width: `${(100 * n) / total}%` } }) : "");
  return h("div", { class: "progress", role: "progressbar", "aria-label": "Done", "aria-valuemin": "0",
                    "aria-valuemax": String(total), "aria-valuenow": String(done), "aria-valuetext": progressText(request) },
    part("done", done), part("dropped", dropped), part("overdue", overdue));
}
