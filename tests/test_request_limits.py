"""Bodies the API will not read: over 1 MB (413), not JSON (415), nested too deeply (400), even before a login.

The same rules for logged-in requests are in tests/test_api_errors.py (test_an_oversized_body_is_413_json,
test_a_body_that_is_not_json_is_415_and_changes_nothing, test_json_nested_too_deeply_to_parse_is_400).
"""
import pytest

from tests.factories import make_invitation, make_team
from tests.test_api_errors import assert_error_shape
from webapp.extensions import db
from webapp.models import Organization, User

MB = 1024 * 1024
PUBLIC_DOORS = ["/api/v1/session", "/api/v1/organizations", "/api/v1/invitations/{token}/accept"]


@pytest.fixture
def token(ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()
    return token


@pytest.mark.parametrize("path", PUBLIC_DOORS)
def test_a_body_over_1_mb_is_413_json_before_any_login(client, token, path):
    response = client.post(path.format(token=token), json={"email": "a@example.test", "padding": "x" * MB})

    assert_error_shape(response, 413)
    assert response.json["message"] == "The request is too large."


def test_a_body_just_under_1_mb_is_read(client, ctx):
    padding = "x" * (MB - 200)
    response = client.post("/api/v1/organizations", json={"name": padding[:100], "admin": {"name": padding}})

    assert_error_shape(response, 422)  # read and judged on its fields, not refused for its size
    assert db.session.query(Organization).count() == 0


@pytest.mark.parametrize("path", PUBLIC_DOORS)
def test_a_form_post_to_a_public_door_is_415(client, token, path):
    response = client.post(path.format(token=token), data={"email": "a@example.test", "password": "plum lantern orbit"})

    assert_error_shape(response, 415)


@pytest.mark.parametrize("path", PUBLIC_DOORS)
def test_json_nested_too_deeply_at_a_public_door_is_400(client, token, path, ctx):
    response = client.post(path.format(token=token), data="[" * 100_000 + "]" * 100_000,
                           content_type="application/json")

    assert_error_shape(response, 400)
    assert db.session.query(User).count() == 6  # make_team's people, nobody new


def test_the_limit_is_one_megabyte(app):
    assert app.config["MAX_CONTENT_LENGTH"] == MB
