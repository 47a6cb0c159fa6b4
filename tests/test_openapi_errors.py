"""/api/v1/openapi.json lists, for every operation, the errors it can answer, each in the one error shape.

What each operation must list follows from what it is, restated here from the contract (issues 3
and 7, README) rather than read from the code that writes the document: a session (401), an unsafe
method with CSRF (403), ids in the path (404), a JSON body (400, 413, 415, 422), If-Match (412, 428),
a rate-limited door (429 with Retry-After). On top of that, every error status the authorization
matrix sees a route answer must be listed for it.
"""
import re

import pytest

from tests.factories import make_team
from tests.test_authz_matrix import ROWS
from webapp.extensions import db

UNSAFE = {"post", "put", "patch", "delete"}
METHODS = UNSAFE | {"get", "head", "options", "trace"}
# The unsafe operations that start a session, so they cannot carry its CSRF token yet.
WITHOUT_CSRF = {("post", "/api/v1/organizations"), ("post", "/api/v1/session"),
                ("post", "/api/v1/invitations/{token}/accept")}
# Log in, sign up, invitation accept and password change (PATCH /me) answer 429 with Retry-After.
RATE_LIMITED = {("post", "/api/v1/session"), ("post", "/api/v1/organizations"),
                ("post", "/api/v1/invitations/{token}/accept"), ("patch", "/api/v1/me")}
# What the services raise that no other rule implies.
RAISED = {
    ("post", "/api/v1/organizations"): {409},                # the email has an account
    ("post", "/api/v1/session"): {401},                      # wrong email or password
    ("get", "/api/v1/session"): {401},                       # nobody logged in
    ("post", "/api/v1/invitations"): {403, 404, 409},        # not yours to invite to; unknown manager; email taken
    ("get", "/api/v1/invitations/{token}"): {410},           # used or expired
    ("post", "/api/v1/invitations/{token}/accept"): {409, 410},
    ("post", "/api/v1/items"): {403, 404},                   # a plate you may not add to; an owner elsewhere
    ("post", "/api/v1/team-requests"): {403, 404},           # someone not below you; an unknown assignee
}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# Every error status the authorization matrix sees each API route answer, anonymous included.
SEEN_BY_THE_MATRIX = {
    (row.method.lower(), openapi_path(row.rule)): {int(s) for s in row.statuses.split() if int(s) >= 400}
    for row in ROWS if row.rule.startswith("/api/") and row.rule != "/api/v1/openapi.json"
}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
                yield method, path, operation, parameters


def required_errors(method: str, path: str, operation: dict, parameters: list[dict]) -> set[int]:
    located = {(p["in"], p["name"]) for p in parameters}
    required = set(SEEN_BY_THE_MATRIX.get((method, path), set())) | RAISED.get((method, path), set())
    if method in UNSAFE and (method, path) not in WITHOUT_CSRF:
        required.add(403)
    if any(where == "path" for where, _ in located):
        required.add(404)
    if "requestBody" in operation:
        required |= {400, 413, 415, 422}
    if any(where in ("query", "header") for where, _ in located):
        required.add(422)
    if ("header", "If-Match") in located:
        required |= {412, 428}
    if (method, path) in RATE_LIMITED:
        required.add(429)
    return required


def follow(document, node: dict) -> dict:
    """The object a {"$ref": "#/..."} points at (or the node itself)."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_walk_covers_every_api_route_of_the_matrix(document):
    documented = {(method, path) for method, path, _, _ in operations(document)}

    assert sorted(set(SEEN_BY_THE_MATRIX) - documented) == []


def test_every_operation_lists_the_errors_its_rules_require(document):
    missing = {}
    for method, path, operation, parameters in operations(document):
        listed = {int(code) for code in operation["responses"] if code.isdigit()}
        if gaps := required_errors(method, path, operation, parameters) - listed:
            missing[f"{method.upper()} {path}"] = sorted(gaps)

    assert missing == {}


def test_anonymous_operations_do_not_claim_a_401_from_the_session_check(document):
    public = {("post", "/api/v1/organizations"), ("get", "/api/v1/invitations/{token}"),
              ("post", "/api/v1/invitations/{token}/accept")}

    claimed = {(m, p) for m, p, operation, _ in operations(document) if (m, p) in public and "401" in operation["responses"]}

    assert claimed == set()


def test_every_error_response_has_the_one_error_schema(document):
    error_schema = follow(document, follow(document, {"$ref": "#/components/responses/DEFAULT_ERROR"})
                          ["content"]["application/json"]["schema"])
    assert set(error_schema["required"]) == {"code", "status", "message"}
    others = {}
    for method, path, operation, _ in operations(document):
        for code, response in operation["responses"].items():
            if code == "default" or int(code) >= 400:
                response = follow(document, response)
                schema = follow(document, response["content"]["application/json"]["schema"])
                if schema != error_schema:
                    others[f"{method.upper()} {path} {code}"] = schema
                assert response["description"], (method, path, code)

    assert others == {}


def test_only_the_rate_limited_doors_list_429_and_each_with_retry_after(document):
    listing = {(method, path): follow(document, operation["responses"]["429"])
               for method, path, operation, _ in operations(document) if "429" in operation["responses"]}

    assert set(listing) == RATE_LIMITED
    for response in listing.values():
        retry_after = follow(document, response["headers"]["Retry-After"])
        assert follow(document, retry_after["schema"])["type"] == "integer"
        assert retry_after["description"]


def test_if_match_operations_explain_412_and_428(document):
    patch = document["paths"]["/api/v1/items/{item_id}"]["patch"]["responses"]

    assert "current" in follow(document, patch["412"])["description"]
    assert "If-Match" in follow(document, patch["428"])["description"]


# The document tells the truth: every operation with a JSON body answers 413 and 415 as listed.

def _example_path(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "some-token" if m.group(1) == "token" else "1", path)


def test_every_operation_with_a_json_body_answers_413_and_415(client, auth, ctx, document):
    team = make_team()
    db.session.commit()
    client = auth.login(team.manager)
    too_large = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    wrong = {}
    for method, path, operation, _ in operations(document):
        if "requestBody" not in operation:
            continue
        url = _example_path(path)
        large = client.open(url, method=method.upper(), data=too_large, content_type="application/json")
        text = client.open(url, method=method.upper(), data="title=Call", content_type="text/plain")
        for expected, response in ((413, large), (415, text)):
            if response.status_code != expected or response.json.get("code") != expected:
                wrong[f"{method.upper()} {path} {expected}"] = (response.status_code, response.get_json(silent=True))

    assert wrong == {}
