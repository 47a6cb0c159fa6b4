"""The record as a CSV download, a print page and a weekly chart: who may get them, and what they hold."""
import csv
import io
import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime

import pytest
import time_machine

from tests.factories import make_item, make_team, set_status
from webapp.extensions import db
from webapp.pages.record import csv_cell
from webapp.services import review

ZONE = "America/Los_Angeles"
Q1 = "from=2026-01-01&to=2026-03-31"
SVG = "{http://www.w3.org/2000/svg}"


def finished(owner, created_at, finished_at, creator=None, status="done", reason=None, **fields):
    with time_machine.travel(created_at, tick=False):
        item = make_item(owner, creator, **fields)
    with time_machine.travel(finished_at, tick=False):
        return set_status(item, owner, status, **({"drop_reason": reason} if reason else {}))


@pytest.fixture
def team(ctx):
    """Rita, in Los Angeles, finished four items in the first quarter of 2026 and one just after it."""
    team = make_team(time_zone=ZONE)
    team.manager.name = "Max Müller"
    finished(team.rep, datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 2, 7, 30, tzinfo=UTC), team.manager,
             title="=HYPERLINK(\"http://evil.test\",\"Click\")", due_on=date(2026, 1, 1), priority="high")
    finished(team.rep, datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC),
             title="-5% for Bosch, \"final\" offer")
    finished(team.rep, datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 2, 24, tzinfo=UTC), status="dropped",
             reason="+49 said: no", title="@SUM(A1) report")
    with time_machine.travel(datetime(2026, 1, 10, tzinfo=UTC), tick=False):
        moot = make_item(team.rep, title="Café visit in Zürich ☕")
    with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC), tick=False):
        review.drop(db.session, team.manager, moot.id, "Trade show cancelled")
    finished(team.rep, datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 4, 1, 7, tzinfo=UTC), title="April's")
    db.session.commit()
    return team


def rows_of(response) -> list[list[str]]:
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


# --- who may get them ---------------------------------------------------------------------------

PAGES = ["record.csv", "record/print", "record/weekly.svg"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_the_person_and_those_above_them_get_the_record_pages(client, auth, team, page, who):
    response = auth.login(getattr(team, who)).get(f"/people/{team.rep.id}/{page}?{Q1}")

    assert response.status_code == 200


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(("who", "status"), [("junior", 403), ("peer", 403), ("outsider", 404)])
def test_others_get_an_html_error_page(client, auth, team, page, who, status):
    response = auth.login(getattr(team, who)).get(f"/people/{team.rep.id}/{page}?{Q1}")

    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "HYPERLINK" not in response.text
    assert "Back to your plate" in response.text


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_log_in_and_back(client, team, page):
    response = client.get(f"/people/{team.rep.id}/{page}?{Q1}")

    assert response.status_code == 302
    next_page = f"/people/{team.rep.id}/{page}?from%3D2026-01-01%26to%3D2026-03-31"
    assert response.headers["Location"] == f"/login?next={next_page}"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-03-02&to=2026-03-01", "The period starts after it ends"),
    ("from=2020-01-01&to=2025-01-01", "A record covers at most 5 years"),
    ("to=31.03.2026", "Check the period (to: Not a valid date.)"),
])
def test_a_bad_period_is_a_422_page_saying_what_is_wrong(client, auth, team, page, query, message):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/{page}?{query}")

    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert message in response.text


# --- CSV ----------------------------------------------------------------------------------------

def test_csv_is_a_utf8_attachment_with_a_byte_order_mark_and_a_header_row(client, auth, team):
    response = auth.login(team.manager).get(f"/people/{team.rep.id}/record.csv?{Q1}")

    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="record-rita-rep-2026-01-01-to-2026-03-31.csv"')
    assert response.data.startswith("\ufeff\"ID\",".encode())
    assert rows_of(response)[0] == ["ID", "Title", "Status", "Priority", "Added by", "Added on", "Due on",
                                    "Finished on", "On time", "Drop reason"]


def test_csv_rows_are_the_records_items_newest_first_with_iso_dates_in_the_persons_zone(client, auth, team):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/record.csv?{Q1}")

    rows = rows_of(response)[1:]
    assert [row[1:] for row in rows] == [
        ["Café visit in Zürich ☕", "no longer needed", "normal", "Rita Rep", "2026-01-09", "", "2026-03-19", "",
         "Trade show cancelled"],
        ["'@SUM(A1) report", "dropped", "normal", "Rita Rep", "2026-02-01", "", "2026-02-23", "", "'+49 said: no"],
        ["'-5% for Bosch, \"final\" offer", "done", "normal", "Rita Rep", "2026-02-01", "", "2026-02-02", "", ""],
        ["'=HYPERLINK(\"http://evil.test\",\"Click\")", "done", "high", "Max Müller", "2026-01-01", "2026-01-01",
         "2026-01-01", "yes", ""],
    ]
    assert all(row[0].isdigit() for row in rows)


def test_csv_quotes_every_cell(client, auth, team):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/record.csv?{Q1}")

    lines = response.data.decode("utf-8-sig").split("\r\n")
    assert lines[-1] == ""
    assert all(line.startswith('"') and line.endswith('"') for line in lines[:-1])


def test_csv_takes_the_same_period_filters(client, auth, team):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/record.csv?from=2026-04-01&to=2026-04-30")

    assert [row[1] for row in rows_of(response)[1:]] == ["April's"]
    assert response.headers["Content-Disposition"].endswith('filename="record-rita-rep-2026-04-01-to-2026-04-30.csv"')


def test_an_empty_record_is_a_csv_with_only_its_header(client, auth, team):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/record.csv?from=2025-01-01&to=2025-03-31")

    assert len(rows_of(response)) == 1


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a=1", "a=1"), ("Café", "Café"), ("", ""), (None, ""), (42, "42"), (date(2026, 1, 2), "2026-01-02"),
])
def test_csv_cells_that_would_run_as_formulas_get_a_leading_quote(value, cell):
    assert csv_cell(value) == cell


# --- the print page -----------------------------------------------------------------------------

def test_print_page_has_the_summary_chart_and_items_without_app_chrome(client, auth, team):
    response = auth.login(team.manager).get(f"/people/{team.rep.id}/record/print?{Q1}")

    page = " ".join(response.text.split())  # as read, whatever the line breaks
    assert response.mimetype == "text/html"
    assert "<h1>Record of Rita Rep</h1>" in page
    assert "1 January 2026 to 31 March 2026" in page
    assert "1 on time · 0 late · 1 without due date" in page
    assert "1 no longer needed" in page
    assert page.count("<svg") == 1 and "Items done per week: 2 in 14 weeks" in page
    assert "Finished items (4)" in page
    assert "=HYPERLINK(&#34;http://evil.test&#34;,&#34;Click&#34;)" in page  # shown as text, escaped for HTML
    assert "Café visit in Zürich ☕" in page and "Dropped: Trade show cancelled" in page
    assert "April&#39;s" not in page
    assert "css/record_print.css" in page
    for chrome in ("app.css", "manifest", "<nav", "<script", "tabbar"):
        assert chrome not in page


def test_print_stylesheet_sets_an_a4_page(client):
    response = client.get("/static/css/record_print.css")

    assert "size: A4" in response.text
    response.close()


def test_print_page_escapes_markup_in_titles(client, auth, team):
    set_status(make_item(team.rep, title="<b>bold</b>"))
    db.session.commit()

    page = auth.login(team.rep).get(f"/people/{team.rep.id}/record/print").text  # this quarter

    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page


def test_print_page_of_an_empty_period_says_so(client, auth, team):
    page = auth.login(team.rep).get(f"/people/{team.rep.id}/record/print?from=2025-01-01&to=2025-03-31").text

    assert "Nothing was finished in this period." in page
    assert "Finished items (0)" in page


# --- the weekly chart ---------------------------------------------------------------------------

def test_weekly_chart_draws_one_bar_per_week_with_work_done(client, auth, team):
    response = auth.login(team.rep).get(f"/people/{team.rep.id}/record/weekly.svg?{Q1}")

    assert response.mimetype == "image/svg+xml"
    svg = ElementTree.fromstring(response.data)
    bars = svg.findall(f"{SVG}rect")
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        "Week of 2025-12-29: 1 done", "Week of 2026-02-02: 1 done"]
    assert bars[0].get("height") == bars[1].get("height")  # both at the peak
    labels = [text.text for text in svg.findall(f"{SVG}text")]
    assert labels[:2] == ["1", "0"]  # the scale
    assert labels[2:] == ["Jan 2026", "Feb", "Mar", "Apr"]
