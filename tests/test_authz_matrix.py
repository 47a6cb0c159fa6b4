"""Every route × every relation to Rita (the rep) → the status each must answer.

The table is checked against the app's route list: a new endpoint without a row fails the suite.
Every resource a request names belongs to Rita (her id, her item, her invitation, her team request);
the relation says who sends it. Other organizations' ids answer 404, people in the organization who
may not act answer 403, and nobody logged in answers 401 (API) or goes to the login page (pages).
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import pytest

from tests.factories import PASSWORD, make_invitation, make_item, make_team, make_user
from tests.loopback_push import Device
from webapp import create_app
from webapp.extensions import db
from webapp.models import PushSubscription
from webapp.services import team_requests

RELATIONS = ("anonymous", "self", "direct manager", "skip-level manager", "report", "peer", "admin",
             "other organization")
# Routes that serve files and show no data.
ASSET_ROUTES = {("GET", "/static/<path:filename>")}

ENDPOINT = "https://fcm.googleapis.com/fcm/send/"
DEVICE = Device(f"{ENDPOINT}device")  # a real P-256 key, as a browser sends


@dataclass
class Row:
    """One route: the statuses in RELATIONS order, and the request's body, headers and query."""

    method: str
    rule: str
    statuses: str
    body: dict | Callable[[dict], dict] | None = None
    headers: dict = field(default_factory=dict)
    query: str = ""

    def expected(self, relation: str) -> int:
        return int(self.statuses.split()[RELATIONS.index(relation)])


#                                                   anon self  mgr  skip  rep  peer admin other
ROWS = [
    Row("GET", "/api/v1/openapi.json",                "200 200 200 200 200 200 200 200"),
    # accounts
    Row("POST", "/api/v1/organizations",              "201 201 201 201 201 201 201 201", lambda ids: {
        "name": "New Co", "admin": {"name": "Fay Founder", "email": f"founder.{ids['relation_key']}@example.test",
                                    "password": "a long enough passphrase", "time_zone": "Europe/Paris"}}),
    Row("GET", "/api/v1/session",                     "401 200 200 200 200 200 200 200"),
    Row("POST", "/api/v1/session",                    "200 200 200 200 200 200 200 200",
        lambda ids: {"email": ids["rep_email"], "password": PASSWORD}),
    Row("DELETE", "/api/v1/session",                  "401 204 204 204 204 204 204 204"),
    Row("GET", "/api/v1/me",                          "401 200 200 200 200 200 200 200"),
    Row("PATCH", "/api/v1/me",                        "401 200 200 200 200 200 200 200", {"name": "Renamed"}),
    # invitations: Rita invites someone to report to her
    Row("POST", "/api/v1/invitations",                "401 201 201 201 403 403 201 404", lambda ids: {
        "email": "nick.new@example.test", "name": "Nick New", "manager_id": ids["person_id"]}),
    Row("GET", "/api/v1/invitations/<token>",         "200 200 200 200 200 200 200 200"),
    Row("POST", "/api/v1/invitations/<token>/accept", "201 201 201 201 201 201 201 201",
        {"password": "a long enough passphrase", "time_zone": "Europe/Paris"}),
    # people
    Row("GET", "/api/v1/people",                      "401 200 200 200 200 200 200 200"),
    Row("PATCH", "/api/v1/people/<int:person_id>",    "401 403 403 403 403 403 200 404",
        lambda ids: {"manager_id": ids["manager_id"]}),
    Row("GET", "/api/v1/people/<int:person_id>/plate", "401 200 200 200 403 403 403 404"),
    # items: Rita's own item; a report may ask her for something (a request up)
    Row("POST", "/api/v1/items",                      "401 201 201 201 201 403 403 404",
        lambda ids: {"owner_id": ids["person_id"], "title": "Can you take this?"}),
    Row("GET", "/api/v1/items/<int:item_id>",         "401 200 200 200 404 404 404 404"),
    Row("PATCH", "/api/v1/items/<int:item_id>",       "401 200 200 200 404 404 404 404",
        {"title": "Edited"}, {"If-Match": '"1"'}),
    Row("POST", "/api/v1/items/<int:item_id>/move",   "401 200 200 200 404 404 404 404",
        lambda ids: {"before_id": ids["second_item_id"]}),
    Row("GET", "/api/v1/items/<int:item_id>/history", "401 200 200 200 404 404 404 404"),
    # team requests: Rita's request to Jo; a request that would put an item on Rita's plate
    Row("POST", "/api/v1/team-requests",              "401 403 201 201 403 403 403 404", lambda ids: {
        "title": "Update the CRM", "priority": "normal", "assignee_ids": [ids["person_id"]]}),
    Row("GET", "/api/v1/team-requests",               "401 200 200 200 200 200 200 200"),
    Row("GET", "/api/v1/team-requests/<int:request_id>", "401 200 200 200 403 403 403 404"),
    Row("PATCH", "/api/v1/team-requests/<int:request_id>", "401 200 200 200 403 403 403 404", {"title": "Edited"}),
    Row("POST", "/api/v1/team-requests/<int:request_id>/remind", "401 200 200 200 403 403 403 404"),
    # workload and interruptions: always about the caller's own team, so everyone logged in may ask
    Row("GET", "/api/v1/team",                        "401 200 200 200 200 200 200 200"),
    Row("GET", "/api/v1/stats/interruptions",         "401 200 200 200 200 200 200 200"),
    # the record of Rita's finished work
    Row("GET", "/api/v1/people/<int:person_id>/record", "401 200 200 200 403 403 403 404"),
    # Still needed? review: the caller's and direct reports' old items; keep or drop one of Rita's
    Row("GET", "/api/v1/review",                      "401 200 200 200 200 200 200 200"),
    Row("POST", "/api/v1/review/<int:item_id>/keep",  "401 200 200 200 404 404 404 404",
        lambda ids: {"due_on": (date.today() + timedelta(days=7)).isoformat()}),
    Row("POST", "/api/v1/review/<int:item_id>/drop",  "401 200 200 200 404 404 404 404", {"reason": "Done elsewhere"}),
    Row("GET", "/api/v1/review/settings",             "401 200 200 200 200 200 200 200"),
    Row("PATCH", "/api/v1/review/settings",           "401 403 403 403 403 403 200 200", {"review_after_days": 21}),
    # notifications and push: always the caller's own
    Row("GET", "/api/v1/me/notification-settings",    "401 200 200 200 200 200 200 200"),
    Row("PATCH", "/api/v1/me/notification-settings",  "401 200 200 200 200 200 200 200", {"push_enabled": False}),
    Row("GET", "/api/v1/notifications",               "401 200 200 200 200 200 200 200"),
    Row("POST", "/api/v1/notifications/read",         "401 200 200 200 200 200 200 200", {"all": True}),
    Row("GET", "/api/v1/push/public-key",             "401 200 200 200 200 200 200 200"),
    Row("GET", "/api/v1/push/subscriptions",          "401 200 200 200 200 200 200 200"),
    Row("POST", "/api/v1/push/subscriptions",         "401 201 201 201 201 201 201 201", lambda ids: {
        "endpoint": f"{ENDPOINT}{ids['relation_key']}", "keys": {"p256dh": DEVICE.p256dh, "auth": DEVICE.auth}}),
    Row("DELETE", "/api/v1/push/subscriptions",       "401 204 204 204 204 204 204 204",
        lambda ids: {"endpoint": ids["rita_phone"]}),
    Row("POST", "/api/v1/push/test",                  "401 200 200 200 200 200 200 200"),
    # pages: data-free shells (the data comes through the API above); anonymous visitors go to log in
    Row("GET", "/",                                   "302 200 200 200 200 200 200 200"),
    Row("GET", "/people/<int:person_id>",             "302 200 200 200 200 200 200 200"),
    Row("GET", "/team",                               "302 200 200 200 200 200 200 200"),
    Row("GET", "/items/<int:item_id>",                "302 200 200 200 200 200 200 200"),
    Row("GET", "/settings",                           "302 200 200 200 200 200 200 200"),
    Row("GET", "/inbox",                              "302 200 200 200 200 200 200 200"),
    Row("GET", "/requests/<int:request_id>",          "302 200 200 200 200 200 200 200"),
    Row("GET", "/people/<int:person_id>/record",      "302 200 200 200 200 200 200 200"),
    Row("GET", "/review",                             "302 200 200 200 200 200 200 200"),
    # pages with Rita's record in them (HTML errors)
    Row("GET", "/people/<int:person_id>/record.csv",  "302 200 200 200 403 403 403 404"),
    Row("GET", "/people/<int:person_id>/record/print", "302 200 200 200 403 403 403 404"),
    Row("GET", "/people/<int:person_id>/record/weekly.svg", "302 200 200 200 403 403 403 404"),
    Row("GET", "/shell",                              "200 200 200 200 200 200 200 200"),
    Row("GET", "/login",                              "200 200 200 200 200 200 200 200"),
    Row("GET", "/signup",                             "200 200 200 200 200 200 200 200"),
    Row("GET", "/invite/<token>",                     "200 200 200 200 200 200 200 200"),
    Row("GET", "/logout",                             "200 200 200 200 200 200 200 200"),
    Row("GET", "/healthz",                            "200 200 200 200 200 200 200 200"),
    Row("GET", "/sw.js",                              "200 200 200 200 200 200 200 200"),
    Row("GET", "/manifest.webmanifest",               "200 200 200 200 200 200 200 200"),
]
ROW_BY_ROUTE = {(row.method, row.rule): row for row in ROWS}


def app_routes() -> set[tuple[str, str]]:
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_has_a_row_in_the_matrix():
    routes = app_routes() - ASSET_ROUTES

    assert sorted(routes - set(ROW_BY_ROUTE)) == [], "routes without a row: add them to ROWS"
    assert sorted(set(ROW_BY_ROUTE) - routes) == [], "rows for routes that no longer exist"
    assert len(ROW_BY_ROUTE) == len(ROWS), "a route has two rows"


def _world(relation: str) -> tuple[dict, object]:
    """Rita's reporting line, an admin outside it, her items, invitation and device; returns ids and the actor."""
    team = make_team()
    team.boss.is_admin = False  # so "skip-level manager" and "admin" are different relations
    admin = make_user(team.org, "Ada Admin", is_admin=True)
    team.outsider.is_admin = True  # an admin, but of another organization
    item = make_item(team.rep, title="Rita's item")
    second = make_item(team.rep, title="Rita's second item")
    key = relation.replace(" ", "-")
    token = make_invitation(team.rep, email=f"nia.{key}@example.test", name="Nia New", manager_id=team.rep.id)
    phone = Device(f"http://127.0.0.1:9/push/rita-{key}")  # nothing listens: a test push fails fast, on loopback
    db.session.add(PushSubscription(user_id=team.rep.id, endpoint=phone.endpoint, p256dh=phone.p256dh, auth=phone.auth))
    request = team_requests.create_request(db.session, team.rep, {
        "title": "Everyone: update the CRM", "priority": "high", "assignee_ids": [team.junior.id]}).request
    actor = {
        "anonymous": None, "self": team.rep, "direct manager": team.manager, "skip-level manager": team.boss,
        "report": team.junior, "peer": team.peer, "admin": admin, "other organization": team.outsider,
    }[relation]
    ids = {
        "person_id": team.rep.id, "item_id": item.id, "second_item_id": second.id, "token": token,
        "request_id": request.id, "manager_id": team.manager.id, "rep_email": team.rep.email,
        "rita_phone": phone.endpoint, "relation_key": key,
    }
    return ids, actor


def _path(rule: str, ids: dict) -> str:
    path = rule
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
    assert "<" not in path, f"no id for {rule}: add one to _world"
    return path


def _surprise(response, row: Row, relation: str) -> str | None:
    """What is wrong with the response for this relation, or None."""
    expected = row.expected(relation)
    if response.status_code != expected:
        return f"{relation}: {response.status_code} instead of {expected}: {response.get_json(silent=True)}"
    if row.rule.startswith("/api/") and expected >= 400 and response.json.get("code") != expected:
        return f"{relation}: not the error shape: {response.json}"
    if expected == 302 and not response.headers["Location"].startswith("/login"):
        return f"{relation}: redirected to {response.headers['Location']}, not to log in"
    return None


@pytest.mark.parametrize("row", ROWS, ids=[f"{row.method} {row.rule}" for row in ROWS])
def test_route_answers_each_relation(client, auth, ctx, row):
    worlds = {relation: _world(relation) for relation in RELATIONS}  # one organization each: no request sees another's effects
    db.session.commit()
    surprises = []
    for relation, (ids, actor) in worlds.items():
        if actor is None:
            auth.logout()
        else:
            auth.login(actor)
        body = row.body(ids) if callable(row.body) else row.body
        response = client.open(_path(row.rule, ids) + row.query, method=row.method, json=body, headers=row.headers)
        surprises.append(_surprise(response, row, relation))

    assert [s for s in surprises if s] == []
