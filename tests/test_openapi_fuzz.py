"""Every operation of /api/v1/openapi.json, fuzzed by schemathesis with a logged-in session.

No input may cause a 5xx, every answer must match the documented schema and status codes, and
every error must use the one error shape. CI (CI=true) runs 100 examples per operation; set
PLATE_FUZZ_EXAMPLES to run fewer (or more) locally. The document comes from each test's own app
(one test per backend, one subtest per operation), so no app is made at import.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_schema_conformance, status_code_conformance,
)

from tests.factories import make_item, make_team
from webapp.extensions import db

EXAMPLES = 100 if os.environ.get("CI") == "true" else int(os.environ.get("PLATE_FUZZ_EXAMPLES", "15"))
CSRF = "fuzz-csrf-token"
ERROR_FIELDS = {"code", "status", "message", "errors", "current"}


@pytest.fixture
def logged_in_as_manager(app):
    """Max, with a boss above and reports below, each with items; returns the session cookie of Max."""
    with app.app_context():
        team = make_team()
        for person in (team.boss, team.manager, team.rep, team.junior, team.peer):
            make_item(person, title=f"{person.name}'s first item")
            make_item(person, team.boss if person is not team.boss else None, title=f"For {person.name}", priority="high")
        db.session.commit()
        session = {"_user_id": team.manager.get_id(), "_fresh": True, "csrf_token": CSRF}
    cookie = app.session_interface.get_signing_serializer(app).dumps(session)
    return {app.config["SESSION_COOKIE_NAME"]: cookie}


@pytest.fixture
def api_schema(request, app):
    """The document as the test's own app serves it, so no app is made at import; each operation is a subtest."""
    if not hasattr(request.node, "_nodeid"):  # schemathesis 4.32's lazy schemas read it; pytest 9 dropped it
        request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


def one_error_shape(ctx, response, case):
    """Every 4xx/5xx answers {code, status, message, errors?} with code equal to the HTTP status."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert set(body) <= ERROR_FIELDS, f"unexpected error fields {set(body) - ERROR_FIELDS}"
    assert body["code"] == response.status_code, body
    assert isinstance(body["status"], str) and isinstance(body["message"], str) and body["message"], body
    return None


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_operation_survives_fuzzing(case, logged_in_as_manager):
    case.call_and_validate(
        headers={"X-CSRF-Token": CSRF},
        cookies=logged_in_as_manager,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
                negative_data_rejection, one_error_shape],
    )


# What fuzzing found, pinned down.

def test_a_patch_without_a_body_is_rejected_not_an_empty_change(client, auth, ctx):
    team = make_team()
    db.session.commit()
    auth.login(team.rep)

    response = client.patch("/api/v1/me")

    assert response.status_code == 422
    assert response.json["message"] == "Send a JSON object with the documented fields."


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/notifications/read", {"all": 1}),
    ("/api/v1/notifications/read", {"ids": ["1"]}),
    ("/api/v1/me/notification-settings", {"push_enabled": 0}),
])
def test_numbers_and_strings_are_not_booleans_or_ids(client, auth, ctx, path, body):
    team = make_team()
    db.session.commit()
    auth.login(team.rep)

    response = client.open(path, method="PATCH" if path.endswith("settings") else "POST", json=body)

    assert response.status_code == 422, response.json


def test_an_inbox_cursor_beyond_any_id_is_rejected_not_a_crash(client, auth, ctx):
    team = make_team()
    db.session.commit()
    auth.login(team.rep)

    response = client.get("/api/v1/notifications?cursor=61906061957")

    assert response.status_code == 422
    assert response.json["message"] == "Check these fields: cursor."


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/session", '{"email": "rita@example.test", "password": "\\ud800"}'),
    ("POST", "/api/v1/session", '{"email": "\\ud800@example.test", "password": "secret"}'),
    ("PATCH", "/api/v1/me", '{"name": "Rita \\udfff"}'),
    ("POST", "/api/v1/items", '{"owner_id": 1, "title": "\\ud83d alone"}'),
    ("DELETE", "/api/v1/push/subscriptions", '{"endpoint": "https://fcm.googleapis.com/\\ud800"}'),
])
def test_text_with_a_lone_surrogate_is_rejected_not_a_crash(client, auth, ctx, method, path, body):
    team = make_team()
    db.session.commit()
    auth.login(team.rep)

    response = client.open(path, method=method, data=body, content_type="application/json")

    assert response.status_code == 422, response.json


def test_text_beyond_the_basic_plane_is_still_welcome(client, auth, ctx):
    team = make_team()
    db.session.commit()
    auth.login(team.rep)

    response = client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Ship it 🚀 — ✓"})

    assert response.status_code == 201
    assert response.json["title"] == "Ship it 🚀 — ✓"
