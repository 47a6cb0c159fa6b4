"""The record outside the app shell: a CSV download and a print-friendly page for review meetings.

Both take the API's filters (?from=YYYY-MM-DD&to=YYYY-MM-DD, default the person's current quarter), are
for the person and those above them, and answer errors as HTML pages. The weekly bar chart is drawn
here, on the server, as SVG: inline on the print page, and at .../record/weekly.svg for an <img>.
"""
import csv
import io
import re
import unicodedata
from datetime import date, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from marshmallow import EXCLUDE, ValidationError
from werkzeug.exceptions import UnprocessableEntity

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas.record import RecordQuery
from webapp.services import record as records
from webapp.services.review import NO_LONGER_NEEDED

bp = Blueprint("record_pages", __name__)

CSV_HEADER = ["ID", "Title", "Status", "Priority", "Added by", "Added on", "Due on", "Finished on", "On time",
              "Drop reason"]
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _signed_in(view):
    """Send anonymous visitors to log in and back, as the app's pages do."""
    @wraps(view)
    def wrapper(**kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(**kwargs)
    return wrapper


def _record(person_id: int) -> records.Record:
    """The record the request asks for; bad filters answer a 422 page naming them."""
    try:
        query = RecordQuery().load(request.args, unknown=EXCLUDE)
    except ValidationError as error:
        problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.messages.items())
        raise UnprocessableEntity(f"Check the period ({problems}).") from None
    person = records.record_person(db.session, actor(), person_id)
    return records.record(db.session, person, query.get("start"), query.get("end"))


def _status(item: records.RecordItem) -> str:
    return "no longer needed" if item.drop_kind == NO_LONGER_NEEDED else item.status


def _on_time(item: records.RecordItem) -> str:
    return {True: "yes", False: "late", None: ""}[item.on_time]


# --- CSV ---------------------------------------------------------------------------------

def csv_cell(value) -> str:
    """A cell no spreadsheet runs as a formula: text starting with = + - @ tab or CR gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _filename(record: records.Record) -> str:
    """e.g. record-rita-rep-2026-10-01-to-2026-12-31.csv (ASCII, so every browser keeps it)."""
    ascii_name = unicodedata.normalize("NFKD", record.person.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or f"person-{record.person.id}"
    return f"record-{slug}-{record.period.start}-to-{record.period.end}.csv"


@bp.get("/people/<int:person_id>/record.csv")
@_signed_in
def record_csv(person_id: int):
    """The record's items as CSV: a header row, one row per item, dates ISO in the person's zone.

    UTF-8 with a byte order mark: Excel reads a CSV without one in the computer's legacy code page and
    garbles every accent, while LibreOffice, Numbers, Google Sheets and csv readers using "utf-8-sig"
    skip it. Every cell is quoted and formula-looking text is defused (see csv_cell).
    """
    record = _record(person_id)
    zone = ZoneInfo(record.person.time_zone)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_HEADER)
    for item in record.items:
        writer.writerow(csv_cell(value) for value in (
            item.id, item.title, _status(item), item.priority, item.created_by.name,
            item.created_at.astimezone(zone).date().isoformat(), item.due_on.isoformat() if item.due_on else "",
            item.finished_on.isoformat(), _on_time(item), item.drop_reason,
        ))
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_filename(record)}"',
        "Cache-Control": "private, no-store",
    })


# --- the weekly chart --------------------------------------------------------------------

def _axis_label(day: date, previous: date | None, monthly: bool) -> str | None:
    """Month names where a month starts (with the year on the first and in January), or only years."""
    if monthly and (previous is None or day.month != previous.month):
        return day.strftime("%b %Y" if previous is None or day.month == 1 else "%b")
    if not monthly and (previous is None or day.year != previous.year):
        return str(day.year)
    return None


def weekly_chart_svg(weeks: list[records.WeekDone], width: int = 680, height: int = 170) -> Markup:
    """Items done per week as an SVG bar chart: black on white, so it prints and photocopies."""
    left, right, top, bottom = 30, 24, 10, 22
    plot_width, plot_height = width - left - right, height - top - bottom
    most = max((week.done for week in weeks), default=0)
    peak = most or 1  # the height of the tallest bar
    slot = plot_width / max(len(weeks), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="weekly-title" font-family="sans-serif" font-size="11">',
        f'<title id="weekly-title">Items done per week: {sum(week.done for week in weeks)} in {len(weeks)} weeks, '
        f'at most {most} in one week</title>',
        f'<line x1="{left}" y1="{top}" x2="{left + plot_width}" y2="{top}" stroke="#bbb" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{most or ""}</text>',
        f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end">0</text>',
    ]
    monthly = len(weeks) <= 60
    previous: date | None = None
    for n, week in enumerate(weeks):
        x = left + n * slot
        if week.done:
            bar = plot_height * week.done / peak
            parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_height - bar:.1f}" width="{slot * 0.7:.1f}" '
                         f'height="{bar:.1f}" fill="#222"><title>Week of {week.week_start}: {week.done} done</title>'
                         f'</rect>')
        thursday = week.week_start + timedelta(days=3)  # a week belongs to the month of its Thursday (as in ISO 8601)
        if label := _axis_label(thursday, previous, monthly):
            parts.append(f'<text x="{x:.1f}" y="{height - 6}">{label}</text>')
        previous = thursday
    parts.append(f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" y2="{top + plot_height}" '
                 f'stroke="#000"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


@bp.get("/people/<int:person_id>/record/weekly.svg")
@_signed_in
def record_weekly_svg(person_id: int):
    """The weekly chart alone, for an <img> in the app's record page."""
    record = _record(person_id)
    return Response(str(weekly_chart_svg(record.weekly_done)), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, no-cache"})


# --- the print page ----------------------------------------------------------------------

@bp.get("/people/<int:person_id>/record/print")
@_signed_in
def record_print(person_id: int):
    """The record on A4 for a review meeting: summary, weekly chart and every item, no app chrome."""
    record = _record(person_id)
    zone = ZoneInfo(record.person.time_zone)
    return render_template(
        "record_print.html", record=record, chart=weekly_chart_svg(record.weekly_done),
        status=_status, on_time=_on_time, local_date=lambda instant: instant.astimezone(zone).date(),
    )
