"""CSRF, input validation and the one JSON error shape of the API, plus the public OpenAPI document."""
import pytest

from tests.factories import PASSWORD, make_item
from webapp.extensions import db


def assert_error_shape(response, code):
    assert response.status_code == code
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.json
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"code", "status", "message", "errors", "current"}


# --- CSRF -------------------------------------------------------------------------------------------

UNSAFE_REQUESTS = [
    ("post", "/api/v1/items", {"title": "x"}),
    ("patch", "/api/v1/me", {"name": "x"}),
    ("delete", "/api/v1/session", None),
    ("post", "/api/v1/invitations", {"email": "a@example.test", "name": "A"}),
]


@pytest.mark.parametrize(("method", "path", "body"), UNSAFE_REQUESTS, ids=[f"{m} {p}" for m, p, _ in UNSAFE_REQUESTS])
def test_unsafe_request_without_csrf_token_is_403(client, auth, team, method, path, body):
    client = auth.login(team.rep)

    response = getattr(client, method)(path, json=body, headers={"X-CSRF-Token": None})

    assert_error_shape(response, 403)
    assert client.get("/api/v1/session").status_code == 200  # nothing happened, not even a log-out


@pytest.mark.parametrize(("method", "path", "body"), UNSAFE_REQUESTS, ids=[f"{m} {p}" for m, p, _ in UNSAFE_REQUESTS])
def test_unsafe_request_with_a_wrong_csrf_token_is_403(client, auth, team, method, path, body):
    client = auth.login(team.rep)

    response = getattr(client, method)(path, json=body, headers={"X-CSRF-Token": "csrf-someone-else"})

    assert_error_shape(response, 403)


def test_csrf_token_from_another_session_is_refused(client, auth, team):
    other = auth.login(team.manager).csrf_token
    client = auth.login(team.rep)

    response = client.patch("/api/v1/me", json={"name": "Hacked"}, headers={"X-CSRF-Token": other})

    assert response.status_code == 403


def test_csrf_refusal_changes_nothing(client, auth, team):
    client = auth.login(team.rep)

    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Sneaky"}, headers={"X-CSRF-Token": None})

    assert client.get(f"/api/v1/people/{team.rep.id}/plate").json["items"] == []


def test_safe_requests_need_no_csrf_token(client, auth, team):
    client = auth.login(team.rep)
    client.csrf_token = None

    assert client.get("/api/v1/me").status_code == 200


def test_log_in_needs_no_csrf_token(client, team):
    response = client.post("/api/v1/session", json={"email": team.rep.email, "password": PASSWORD})

    assert response.status_code == 200


def test_sign_up_needs_no_csrf_token(client):
    response = client.post("/api/v1/organizations", json={"name": "Acme", "admin": {
        "name": "Ana", "email": "ana@example.test", "password": "short", "time_zone": "UTC"}})

    assert response.status_code == 422  # validated: CSRF did not stop it


def test_accepting_an_invitation_needs_no_csrf_token(client):
    response = client.post("/api/v1/invitations/unknown/accept", json={"password": "long enough pw", "time_zone": "UTC"})

    assert response.status_code == 404  # looked up: CSRF did not stop it


@pytest.mark.parametrize(("method", "path", "body"), UNSAFE_REQUESTS, ids=[f"{m} {p}" for m, p, _ in UNSAFE_REQUESTS])
def test_anonymous_unsafe_request_is_401_before_csrf(client, method, path, body):
    response = getattr(client, method)(path, json=body)

    assert_error_shape(response, 401)
    assert "Location" not in response.headers


# --- validation ---------------------------------------------------------------------------------------

def test_unparseable_json_is_400(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", data="{not json", content_type="application/json")

    assert_error_shape(response, 400)


@pytest.mark.parametrize("idempotency_key", [None, "key-1"])
def test_json_nested_too_deeply_to_parse_is_400(client, auth, team, idempotency_key):
    body = "[" * 100_000 + "]" * 100_000

    response = auth.login(team.rep).post("/api/v1/items", data=body, content_type="application/json",
                                         headers={"Idempotency-Key": idempotency_key})

    assert_error_shape(response, 400)


def test_every_invalid_field_is_named(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", json={
        "owner_id": "three", "title": "x" * 201, "notes": "n" * 10_001, "priority": "urgent",
        "urgent": "yes", "due_on": "2026-02-30", "colour": "red",
    })

    assert_error_shape(response, 422)
    assert set(response.json["errors"]["json"]) == {"owner_id", "title", "notes", "priority", "urgent", "due_on", "colour"}
    for field in ("owner_id", "title", "notes", "priority", "urgent", "due_on", "colour"):
        assert field in response.json["message"]


@pytest.mark.parametrize(("field", "value"), [
    ("title", 200 * "x"),
    ("notes", 10_000 * "n"),
    ("due_on", "2026-02-28"),
    ("priority", "low"),
    ("urgent", True),
])
def test_values_at_the_limit_are_accepted(client, auth, team, field, value):
    response = auth.login(team.rep).post("/api/v1/items", json={"owner_id": team.rep.id, "title": "x", field: value})

    assert response.status_code == 201


INVALID_ITEMS = {
    "title too long": {"title": "x" * 201},
    "blank title": {"title": "   "},
    "empty title": {"title": ""},
    "title not a string": {"title": 42},
    "title missing": {"title": None},
    "notes too long": {"notes": "n" * 10_001},
    "notes null": {"notes": None},
    "owner as text": {"owner_id": "1"},
    "owner as float": {"owner_id": 1.5},
    "owner as bool": {"owner_id": True},
    "owner beyond 32 bits": {"owner_id": 2**40},
    "owner zero": {"owner_id": 0},
    "priority unknown": {"priority": "urgent"},
    "urgent as text": {"urgent": "true"},
    "urgent as number": {"urgent": 1},
    "due_on not a date": {"due_on": "next friday"},
    "due_on impossible": {"due_on": "2026-02-30"},
    "due_on with time": {"due_on": "2026-03-01T10:00:00Z"},
    "due_on as number": {"due_on": 20260301},
    "NUL in title": {"title": "Call\x00Siemens"},
    "unknown field": {"colour": "red"},
    "status on create": {"status": "done"},
    "before_id as text": {"before_id": "first"},
}


@pytest.mark.parametrize("change", INVALID_ITEMS.values(), ids=INVALID_ITEMS.keys())
def test_invalid_new_item_is_422_naming_the_field(client, auth, team, change):
    body = {"owner_id": team.rep.id, "title": "Call Siemens", **change}
    body = {k: v for k, v in body.items() if not (k == "title" and v is None)}
    client = auth.login(team.rep)

    response = client.post("/api/v1/items", json=body)

    assert_error_shape(response, 422)
    assert set(response.json["errors"]["json"]) == set(change)
    assert client.get(f"/api/v1/people/{team.rep.id}/plate").json["items"] == []


INVALID_PATCHES = {
    "unknown status": {"status": "archived"},
    "title too long": {"title": "x" * 201},
    "owner as text": {"owner_id": "2"},
    "unknown field": {"position": 1.0},
    "version is not editable": {"version": 7},
    "drop reason too long": {"status": "dropped", "drop_reason": "r" * 501},
}


@pytest.mark.parametrize("change", INVALID_PATCHES.values(), ids=INVALID_PATCHES.keys())
def test_invalid_edit_is_422_and_changes_nothing(client, auth, team, change):
    item = make_item(team.rep, title="Call Siemens")
    db.session.commit()
    client = auth.login(team.rep)

    response = client.patch(f"/api/v1/items/{item.id}", json=change, headers={"If-Match": '"1"'})

    assert_error_shape(response, 422)
    assert set(response.json["errors"]["json"]) & set(change)
    assert client.get(f"/api/v1/items/{item.id}").json["version"] == 1


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/organizations", {"name": "Acme", "admin": {"name": "A", "email": "not-an-email", "password": "x" * 12,
                                                          "time_zone": "UTC"}}),
    ("/api/v1/organizations", {"name": "Acme"}),
    ("/api/v1/session", {"email": "a@example.test"}),
    ("/api/v1/session", {"email": "a@example.test", "password": "x", "remember": True}),
    ("/api/v1/session", {"email": "a\x00@example.test", "password": "x"}),
    ("/api/v1/invitations/some-token/accept", {"password": "x" * 12}),
    ("/api/v1/invitations/some-token/accept", {"password": "x" * 12, "time_zone": "UTC", "email": "a@example.test"}),
], ids=["bad email", "no admin", "no password", "unknown field", "NUL in email", "no time zone", "email not choosable"])
def test_public_endpoints_validate_too(client, path, body):
    assert_error_shape(client.post(path, json=body), 422)


def test_me_rejects_unknown_fields(client, auth, team):
    response = auth.login(team.rep).patch("/api/v1/me", json={"is_admin": True})

    assert_error_shape(response, 422)
    assert "is_admin" in response.json["errors"]["json"]


def test_a_json_body_that_is_not_an_object_is_422(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", json=["Call Siemens"])

    assert_error_shape(response, 422)
    assert response.json["message"] == "Send a JSON object with the documented fields."


def test_an_oversized_body_is_413_json(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", json={"title": "x" * (2 * 1024 * 1024)})

    assert_error_shape(response, 413)


@pytest.mark.parametrize("path", ["/api/v1/items/99999999999999999999", "/api/v1/people/99999999999999999999/plate",
                                  "/api/v1/items/99999999999999999999/history"])
def test_ids_beyond_any_row_are_404_not_500(client, auth, team, path):
    assert_error_shape(auth.login(team.rep).get(path), 404)


# --- JSON for every error under /api, HTML elsewhere ---------------------------------------------------------

def test_unknown_api_path_is_404_json(client, auth, team):
    assert_error_shape(auth.login(team.rep).get("/api/v1/nothing-here"), 404)


def test_unknown_api_path_is_404_json_for_anonymous_too(client):
    assert_error_shape(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_under_api_is_405_json_with_allow(client, auth, team):
    response = auth.login(team.rep).put("/api/v1/people")

    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_500_json_and_logged(client, auth, team, monkeypatch, caplog):
    from webapp.services import people

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(people, "list_people", explode)

    response = auth.login(team.rep).get("/api/v1/people")

    assert_error_shape(response, 500)
    assert "boom" not in response.get_data(as_text=True)
    assert "boom" in caplog.text


def test_a_page_outside_the_api_keeps_html_errors(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- OpenAPI -----------------------------------------------------------------------------------------------------

def test_openapi_document_is_public_and_lists_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json["paths"]
    expected = {
        "/api/v1/organizations": {"post"},
        "/api/v1/session": {"get", "post", "delete"},
        "/api/v1/me": {"get", "patch"},
        "/api/v1/invitations": {"post"},
        "/api/v1/invitations/{token}/accept": {"post"},
        "/api/v1/people": {"get"},
        "/api/v1/people/{person_id}": {"patch"},
        "/api/v1/people/{person_id}/plate": {"get"},
        "/api/v1/items": {"post"},
        "/api/v1/items/{item_id}": {"get", "patch"},
        "/api/v1/items/{item_id}/move": {"post"},
        "/api/v1/items/{item_id}/history": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths.get(path, {})), path


def test_openapi_document_names_the_headers_the_api_reads(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    def headers(path, method):
        return {p["name"]: p["required"] for p in paths[path][method]["parameters"] if p["in"] == "header"}

    assert headers("/api/v1/items/{item_id}", "patch") == {"If-Match": True}
    assert {"412", "428"} <= set(paths["/api/v1/items/{item_id}"]["patch"]["responses"])
    assert headers("/api/v1/items", "post") == {"Idempotency-Key": False}
    assert headers("/api/v1/team-requests", "post") == {"Idempotency-Key": False}
    plate = paths["/api/v1/people/{person_id}/plate"]["get"]["parameters"]
    assert [(p["in"], p["name"]) for p in plate] == [
        ("query", "status"), ("query", "limit"), ("query", "cursor"), ("header", "If-None-Match")]


def test_a_body_that_is_not_json_is_415_and_changes_nothing(client, auth, team):
    item = make_item(team.rep, title="Call Siemens")
    db.session.commit()
    client = auth.login(team.rep)

    response = client.patch(f"/api/v1/items/{item.id}", data="title=Call+Bosch", headers={"If-Match": '"1"'},
                            content_type="application/x-www-form-urlencoded")

    assert_error_shape(response, 415)
    assert client.get(f"/api/v1/items/{item.id}").json["version"] == 1
