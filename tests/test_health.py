"""GET /healthz tells a load balancer whether the database answers and when the dispatcher last ran."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.extensions import db
from webapp.models import DispatcherHeartbeat

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def beat(name: str, at: datetime) -> None:
    db.session.add(DispatcherHeartbeat(name=name, beat_at=at))
    db.session.commit()


def test_healthy_without_a_dispatcher_yet_and_without_logging_in(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok",
                             "dispatcher": {"last_beat_at": None, "age_seconds": None}}
    assert response.headers["Cache-Control"] == "no-store"


def test_reports_the_latest_pass_of_any_dispatcher(client, ctx):
    beat("dispatcher", NOW - timedelta(seconds=40))
    beat("in-process", NOW - timedelta(seconds=12))

    with time_machine.travel(NOW, tick=False):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["dispatcher"] == {"last_beat_at": "2026-11-25T11:59:48Z", "age_seconds": 12.0}


def test_a_pass_of_the_real_dispatcher_shows_up(app, client):
    from webapp.notifications import dispatcher

    with time_machine.travel(NOW, tick=False):
        dispatcher.tick(app)
    with time_machine.travel(NOW + timedelta(seconds=5), tick=False):
        response = client.get("/healthz")

    assert response.json["dispatcher"]["age_seconds"] == 5.0


def test_a_stale_dispatcher_is_reported_but_keeps_the_node_in_rotation_by_default(client, ctx):
    beat("dispatcher", NOW - timedelta(hours=3))

    with time_machine.travel(NOW, tick=False):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["dispatcher"]["age_seconds"] == 3 * 3600


class TestWithAMaximumDispatcherAge:
    @pytest.fixture
    def app_config(self):
        return {"PLATE_HEALTH_MAX_DISPATCHER_AGE": 120}

    def test_a_stale_dispatcher_is_503(self, client, ctx):
        beat("dispatcher", NOW - timedelta(seconds=121))

        with time_machine.travel(NOW, tick=False):
            response = client.get("/healthz")

        assert response.status_code == 503
        assert response.json["status"] == "degraded"
        assert response.json["database"] == "ok"
        assert response.json["dispatcher"]["max_age_seconds"] == 120

    def test_no_dispatcher_ever_is_503(self, client):
        assert client.get("/healthz").status_code == 503

    def test_a_recent_pass_is_200(self, client, ctx):
        beat("dispatcher", NOW - timedelta(seconds=30))

        with time_machine.travel(NOW, tick=False):
            assert client.get("/healthz").status_code == 200


def test_an_unreachable_database_is_503(app, tmp_path):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        unreachable = url.set(database=str(tmp_path / "no-such-directory" / "plate.db"))
    else:
        unreachable = url.set(host="127.0.0.1", port=1)  # nothing listens there
    broken = create_app({"TESTING": True, "SECRET_KEY": "test", "PLATE_RATELIMIT_ENABLED": False,
                         "SQLALCHEMY_DATABASE_URI": unreachable.render_as_string(hide_password=False)})

    response = broken.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable", "dispatcher": None}
    with broken.app_context():
        db.engine.dispose()
