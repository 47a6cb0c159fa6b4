"""The people of an organization with their plate counts, and admins changing the reporting line."""
from datetime import UTC, date, datetime

import time_machine

from tests.factories import make_item, make_org, make_team, make_user, set_status
from webapp.extensions import db

# 10:30 UTC on 10 March: already 11 March on Kiritimati (UTC+14), still 9 March in Pago Pago (UTC-11).
INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
# The row of issue 3; later issues may add counts of their own.
ROW_KEYS = ("id", "name", "email", "manager_id", "time_zone", "is_admin", "open_items", "overdue_items")


def rows_by_name(response):
    return {row["name"]: row for row in response.json}


# --- GET /people ------------------------------------------------------------------------------

def test_people_lists_everyone_in_the_organization_and_nobody_else(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.rep).get("/api/v1/people")

    assert response.status_code == 200
    assert sorted(rows_by_name(response)) == ["Bea Boss", "Jo Junior", "Max Manager", "Pat Peer", "Rita Rep"]
    rita = rows_by_name(response)["Rita Rep"]
    assert {key: rita[key] for key in ROW_KEYS} == {
        "id": team.rep.id, "name": "Rita Rep", "email": team.rep.email, "manager_id": team.manager.id,
        "time_zone": "Europe/Berlin", "is_admin": False, "open_items": 0, "overdue_items": 0}


def test_people_counts_are_null_for_plates_you_may_not_see(client, auth, ctx):
    team = make_team()
    make_item(team.peer)
    make_item(team.manager)
    db.session.commit()

    rows = rows_by_name(auth.login(team.rep).get("/api/v1/people"))

    for hidden in ("Pat Peer", "Max Manager", "Bea Boss"):
        assert (rows[hidden]["open_items"], rows[hidden]["overdue_items"]) == (None, None)
    assert rows["Jo Junior"]["open_items"] == 0


def test_people_counts_only_open_items(client, auth, ctx):
    team = make_team()
    make_item(team.rep)
    make_item(team.rep)
    set_status(make_item(team.rep), status="done")
    set_status(make_item(team.rep), status="dropped", drop_reason="Customer cancelled")
    db.session.commit()

    rows = rows_by_name(auth.login(team.boss).get("/api/v1/people"))

    assert rows["Rita Rep"]["open_items"] == 2


def test_people_overdue_counts_use_each_owners_time_zone(client, auth, ctx):
    org = make_org()
    boss = make_user(org, "Bea Boss", time_zone="UTC")
    east = make_user(org, "Kiri East", boss, time_zone="Pacific/Kiritimati")
    west = make_user(org, "Pago West", boss, time_zone="Pacific/Pago_Pago")
    utc = make_user(org, "Uta UTC", boss, time_zone="UTC")
    for person in (east, west, utc):
        make_item(person, due_on=date(2026, 3, 9))
        make_item(person, due_on=date(2026, 3, 10))
        make_item(person, due_on=date(2026, 3, 11))
        make_item(person, due_on=date(2026, 3, 1))
        set_status(make_item(person, due_on=date(2026, 3, 1)), status="done")
    db.session.commit()

    with time_machine.travel(INSTANT, tick=False):
        rows = rows_by_name(auth.login(boss).get("/api/v1/people"))

    assert rows["Kiri East"]["overdue_items"] == 3  # 1, 9 and 10 March are before 11 March
    assert rows["Uta UTC"]["overdue_items"] == 2  # 1 and 9 March
    assert rows["Pago West"]["overdue_items"] == 1  # only 1 March is before 9 March


# --- PATCH /people/<id> -------------------------------------------------------------------------

def test_admin_sets_someones_manager(client, auth, ctx):
    team = make_team()
    db.session.commit()
    client = auth.login(team.boss)

    response = client.patch(f"/api/v1/people/{team.peer.id}", json={"manager_id": team.rep.id})

    assert response.status_code == 200
    assert response.json["id"] == team.peer.id
    assert response.json["manager_id"] == team.rep.id
    assert auth.login(team.rep).get(f"/api/v1/people/{team.peer.id}/plate").status_code == 200


def test_admin_may_make_someone_report_to_nobody(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.rep.id}", json={"manager_id": None})

    assert response.status_code == 200
    assert response.json["manager_id"] is None


def test_admin_makes_someone_an_admin(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.rep.id}", json={"is_admin": True})

    assert response.status_code == 200
    assert response.json["is_admin"] is True


def test_person_row_after_patch_has_the_plate_counts_the_admin_may_see(client, auth, ctx):
    team = make_team()
    make_item(team.rep)
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.rep.id}", json={"is_admin": True})

    assert (response.json["open_items"], response.json["overdue_items"]) == (1, 0)


def test_only_admins_may_change_people(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.manager).patch(f"/api/v1/people/{team.rep.id}", json={"manager_id": team.peer.id})

    assert response.status_code == 403


def test_changing_a_person_of_another_organization_is_404(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.outsider.id}", json={"is_admin": True})

    assert response.status_code == 404


def test_a_manager_from_another_organization_is_404(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.rep.id}", json={"manager_id": team.outsider.id})

    assert response.status_code == 404


def test_making_someone_report_to_their_own_report_is_a_cycle(client, auth, ctx):
    team = make_team()
    db.session.commit()
    client = auth.login(team.boss)

    response = client.patch(f"/api/v1/people/{team.manager.id}", json={"manager_id": team.junior.id})

    assert response.status_code == 422
    assert "manager_id" in response.json["errors"]["json"]
    assert rows_by_name(client.get("/api/v1/people"))["Max Manager"]["manager_id"] == team.boss.id


def test_nobody_may_be_their_own_manager(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.rep.id}", json={"manager_id": team.rep.id})

    assert response.status_code == 422


def test_the_last_admin_cannot_stop_being_admin(client, auth, ctx):
    team = make_team()
    db.session.commit()
    client = auth.login(team.boss)

    response = client.patch(f"/api/v1/people/{team.boss.id}", json={"is_admin": False})

    assert response.status_code == 422
    assert "is_admin" in response.json["errors"]["json"]
    assert rows_by_name(client.get("/api/v1/people"))["Bea Boss"]["is_admin"] is True


def test_an_admin_may_step_down_when_another_admin_remains(client, auth, ctx):
    team = make_team()
    team.manager.is_admin = True
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.boss.id}", json={"is_admin": False})

    assert response.status_code == 200
    assert response.json["is_admin"] is False


def test_admins_of_other_organizations_do_not_count_as_remaining_admins(client, auth, ctx):
    team = make_team()
    team.outsider.is_admin = True
    db.session.commit()

    response = auth.login(team.boss).patch(f"/api/v1/people/{team.boss.id}", json={"is_admin": False})

    assert response.status_code == 422
