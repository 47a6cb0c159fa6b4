// Dates as people say them: "today", "tomorrow", "Fri 28 Nov", always in the plate owner's zone.
const dayFormat = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const timeFormats = new Map();

/** The calendar date (YYYY-MM-DD) it is now in a time zone. */
export function todayIn(zone, at = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone || undefined, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(at);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

export function addDays(isoDate, days) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

export function weekday(isoDate) {
  return new Date(`${isoDate}T00:00:00Z`).getUTCDay(); // 0 = Sunday
}

export function shortDate(isoDate) {
  return dayFormat.format(new Date(`${isoDate}T00:00:00Z`)).replace(",", "");
}

/** {text, tone} for an item's due date, seen from the owner's today. */
export function dueLabel(dueOn, zone) {
  if (!dueOn) return null;
  const today = todayIn(zone);
  if (dueOn < today) return { text: `overdue · ${shortDate(dueOn)}`, tone: "overdue" };
  if (dueOn === today) return { text: "today", tone: "today" };
  if (dueOn === addDays(today, 1)) return { text: "tomorrow", tone: "soon" };
  return { text: shortDate(dueOn), tone: "later" };
}

/** Due presets: today, tomorrow, end of (the working) week, next Monday. */
export function presetDate(preset, zone) {
  const today = todayIn(zone);
  const day = weekday(today);
  switch (preset) {
    case "today": return today;
    case "tomorrow": return addDays(today, 1);
    case "end-of-week": return addDays(today, day <= 5 ? 5 - day : 12 - day); // this Friday, or next on weekends
    case "next-week": return addDays(today, ((8 - day) % 7) || 7); // next Monday
    default: return null;
  }
}

export function clockIn(zone, at = new Date()) {
  if (!timeFormats.has(zone)) {
    timeFormats.set(zone, new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone || undefined }));
  }
  return timeFormats.get(zone).format(at);
}

/** "Tue 09:14" for an instant, in the viewer's zone; with the date when it is not this week. */
export function when(isoInstant, zone) {
  const at = new Date(isoInstant);
  const ageDays = (Date.now() - at.getTime()) / 86400000;
  const options = ageDays < 6
    ? { weekday: "short", hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: zone || undefined }).format(at).replace(",", "");
}

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
