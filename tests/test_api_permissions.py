"""Who may do what, as one table: the actor's relation to Rita's plate × each action → status."""
import pytest

from tests.factories import make_item, make_team
from webapp.extensions import db

RELATIONS = ("self", "direct manager", "skip-level manager", "report", "peer", "other organization", "anonymous")

# Rita (rep) owns the plate. Her manager is Max, his manager Bea; Jo reports to Rita; Pat is Rita's peer.
EXPECTED = {
    #  relation               view plate  view item  add item  edit item  reassign to Rita
    "self":                  (200,        200,       201,      200,       200),
    "direct manager":        (200,        200,       201,      200,       200),
    "skip-level manager":    (200,        200,       201,      200,       200),
    "report":                (403,        404,       201,      404,       200),
    "peer":                  (403,        404,       403,      404,       403),
    "other organization":    (404,        404,       404,      404,       404),
    "anonymous":             (401,        401,       401,      401,       401),
}
ACTIONS = ("view plate", "view item", "add item", "edit item", "reassign")
CASES = [(relation, action, EXPECTED[relation][i]) for relation in RELATIONS for i, action in enumerate(ACTIONS)]


def _actor(team, relation):
    return {
        "self": team.rep, "direct manager": team.manager, "skip-level manager": team.boss,
        "report": team.junior, "peer": team.peer, "other organization": team.outsider, "anonymous": None,
    }[relation]


def _act(client, action, rep_id, item_id, own_item_id):
    if action == "view plate":
        return client.get(f"/api/v1/people/{rep_id}/plate")
    if action == "view item":
        return client.get(f"/api/v1/items/{item_id}")
    if action == "add item":
        return client.post("/api/v1/items", json={"owner_id": rep_id, "title": "Can you take this?"})
    if action == "edit item":
        return client.patch(f"/api/v1/items/{item_id}", json={"title": "Edited"}, headers={"If-Match": '"1"'})
    return client.patch(f"/api/v1/items/{own_item_id}", json={"owner_id": rep_id}, headers={"If-Match": '"1"'})


@pytest.mark.parametrize(("relation", "action", "expected"), CASES, ids=[f"{r}-{a}" for r, a, _ in CASES])
def test_permission_matrix(client, auth, ctx, relation, action, expected):
    team = make_team()
    item = make_item(team.rep, title="Rita's own item")
    actor = _actor(team, relation)
    own_item = make_item(actor) if actor is not None else item
    db.session.commit()
    if actor is not None:
        auth.login(actor)

    response = _act(client, action, team.rep.id, item.id, own_item.id)

    assert response.status_code == expected, response.json
    assert response.is_json


def test_creator_sees_item_they_put_on_their_managers_plate(client, auth, ctx):
    team = make_team()
    request_up = make_item(team.manager, creator=team.rep, title="Approve my travel")
    db.session.commit()
    client = auth.login(team.rep)

    assert client.get(f"/api/v1/items/{request_up.id}").status_code == 200
    assert client.get(f"/api/v1/items/{request_up.id}/history").status_code == 200
    assert client.get(f"/api/v1/people/{team.manager.id}/plate").status_code == 403


def test_creator_may_edit_the_item_they_put_on_their_managers_plate(client, auth, ctx):
    team = make_team()
    request_up = make_item(team.manager, creator=team.rep, title="Approve my travel")
    db.session.commit()

    response = auth.login(team.rep).patch(
        f"/api/v1/items/{request_up.id}", json={"title": "Approve my travel to Lyon"}, headers={"If-Match": '"1"'})

    assert response.status_code == 200
    assert response.json["title"] == "Approve my travel to Lyon"


def test_adding_to_skip_level_managers_plate_is_forbidden(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.rep).post("/api/v1/items", json={"owner_id": team.boss.id, "title": "Hi"})

    assert response.status_code == 403
    assert response.json["message"]


def test_manager_may_reassign_between_reports(client, auth, ctx):
    team = make_team()
    item = make_item(team.rep, title="Visit Bosch")
    db.session.commit()

    response = auth.login(team.manager).patch(
        f"/api/v1/items/{item.id}", json={"owner_id": team.peer.id}, headers={"If-Match": '"1"'})

    assert response.status_code == 200
    assert response.json["owner"] == {"id": team.peer.id, "name": "Pat Peer"}


def test_reassigning_to_a_plate_you_may_not_add_to_is_forbidden_and_changes_nothing(client, auth, ctx):
    team = make_team()
    item = make_item(team.rep, title="Visit Bosch")
    db.session.commit()
    client = auth.login(team.rep)

    response = client.patch(f"/api/v1/items/{item.id}", json={"owner_id": team.peer.id}, headers={"If-Match": '"1"'})

    assert response.status_code == 403
    assert client.get(f"/api/v1/items/{item.id}").json["owner"]["id"] == team.rep.id


def test_anonymous_api_call_gets_401_json_not_a_redirect(client):
    response = client.get("/api/v1/people")

    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.json == {"code": 401, "status": "Unauthorized", "message": response.json["message"]}
    assert response.json["message"]


def test_admin_without_line_management_cannot_see_a_plate(client, auth, ctx):
    team = make_team()
    team.peer.is_admin = True
    db.session.commit()

    assert auth.login(team.peer).get(f"/api/v1/people/{team.rep.id}/plate").status_code == 403
