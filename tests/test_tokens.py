"""Invitation tokens are stored only as hashes and found by hash, never compared as plain text."""
import hashlib

from sqlalchemy import select

from tests.factories import make_team
from webapp.extensions import db
from webapp.models import Invitation


def test_the_database_holds_only_the_hash_of_an_invitation_token(client, auth, ctx):
    manager = make_team().manager
    db.session.commit()

    token = auth.login(manager).post("/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia"}
                                     ).json["token"]

    row = db.session.execute(select(Invitation.__table__)).one()
    assert token not in [str(value) for value in row]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_a_token_off_by_one_character_finds_nothing(client, auth, ctx):
    manager = make_team().manager
    db.session.commit()
    token = auth.login(manager).post("/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia"}
                                     ).json["token"]
    near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert client.get(f"/api/v1/invitations/{near_miss}").status_code == 404
    assert client.get(f"/api/v1/invitations/{token}").status_code == 200
