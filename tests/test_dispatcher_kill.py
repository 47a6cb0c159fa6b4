"""A `flask push run` dispatcher killed with SIGKILL in the middle of a pass loses no digest and sends none twice.

The loopback push service holds its answers to the second group's devices, so the dispatcher is
killed deterministically while those pushes are in flight: leased, sent, not yet acknowledged. A
new dispatcher started past the lease (2 minutes, so it runs with its clock 3 minutes ahead)
delivers every digest. Only pushes in flight at the kill go out again, with the same Topic, so the
push service replaces rather than repeats them; digests acknowledged before the kill never do.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from py_vapid import Vapid02
from sqlalchemy import func, select, update

from tests.factories import make_item, make_org, make_user
from tests.loopback_push import LoopbackPushService
from webapp import create_app
from webapp.clock import now
from webapp.extensions import db
from webapp.models import Delivery, Digest, Notification, NotificationPreferences, PendingDigest, PushSubscription

ROOT = Path(__file__).resolve().parent.parent
# `flask --app webapp push run`, optionally with the clock moved ahead (time-machine) to outlive the lease.
DISPATCHER = """
import sys
from datetime import UTC, datetime, timedelta
ahead = float(sys.argv.pop(1))
if ahead:
    import time_machine
    time_machine.travel(datetime.now(UTC) + timedelta(seconds=ahead), tick=True).start()
from flask.cli import main
sys.argv = ["flask", "--app", "webapp", "push", "run", "--interval", "0.3"]
main()
"""


class HoldingPushService(LoopbackPushService):
    """Answers at once, except to devices in `held`: those requests are noted on arrival and answered on release."""

    def __init__(self):
        super().__init__()
        self.held: set[str] = set()
        self.arrived: list[str] = []
        self.release = threading.Event()

    def _handle(self, path, headers, body):
        name = path.rsplit("/", 1)[-1]
        if name in self.held:
            with self._lock:
                self.arrived.append(name)
            self.release.wait(timeout=60)
        return super()._handle(path, headers, body)


def wait_for(condition, what: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> set[int]:
    """The processes `pid` started (Linux's /proc)."""
    return {int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()}


def start_dispatcher(env: dict, seconds_ahead: float, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DISPATCHER, str(seconds_ahead)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_killed_dispatcher_loses_nothing_and_repeats_only_unacknowledged_pushes(tmp_path, sqlite_template):
    database = tmp_path / "plate.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    vapid = Vapid02()
    vapid.generate_keys()
    env = {**os.environ, "DATABASE_URL": url, "PLATE_SECRET_KEY": "test", "PLATE_DISPATCH_IN_PROCESS": "0",
           "PLATE_PUSH_PROCESSES": "2", "PLATE_VAPID_PRIVATE_KEY": vapid.private_pem().decode()}
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})

    def count(query) -> int:
        with app.app_context():
            try:
                return db.session.scalar(query)
            finally:
                db.session.remove()

    with HoldingPushService() as service, app.app_context():
        org = make_org()
        boss = make_user(org, "Dana")
        first = [make_user(org, f"First {n}", boss) for n in range(3)]
        second = [make_user(org, f"Second {n}", boss) for n in range(4)]
        devices = {}  # device name -> user id
        for person in first + second:
            # No quiet time: the dispatchers run on the real clock, and Berlin's evenings and weekends are quiet.
            db.session.add(NotificationPreferences(user_id=person.id, quiet_start="00:00", quiet_end="00:00",
                                                   quiet_days=[]))
            for phone in ("phone", "tablet") if person is second[0] else ("phone",):
                device = service.device(f"{person.id}-{phone}")
                db.session.add(PushSubscription(user_id=person.id, endpoint=device.endpoint, p256dh=device.p256dh,
                                                auth=device.auth))
                devices[f"{person.id}-{phone}"] = person.id
        db.session.commit()

        def give_due_digests(people):
            for person in people:
                make_item(person, boss, f"For {person.name}")
            db.session.execute(update(PendingDigest).where(PendingDigest.user_id.in_([p.id for p in people]))
                               .values(due_at=now() - timedelta(seconds=1)))
            db.session.commit()

        first_devices = {name for name, user_id in devices.items() if user_id in {p.id for p in first}}
        second_devices = set(devices) - first_devices
        delivered = select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
        log = (tmp_path / "dispatcher.log").open("w")
        dispatcher = start_dispatcher(env, 0, log)
        try:
            give_due_digests(first)
            wait_for(lambda: count(delivered) == len(first_devices), "the first digests to be acknowledged")

            service.held = second_devices
            give_due_digests(second)
            wait_for(lambda: service.arrived, "a push of the second digests to reach the push service")
            helpers = children(dispatcher.pid)
            assert helpers, "the dispatcher encrypts and sends in worker processes"
            dispatcher.send_signal(signal.SIGKILL)
            dispatcher.wait(timeout=15)
            wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers),
                     "the killed dispatcher's worker processes to leave by themselves")
            in_flight_at_kill = set(service.arrived)
            assert count(delivered) == len(first_devices), "nothing of the killed pass was acknowledged"
            service.held = set()
            service.release.set()  # the held requests now answer a closed connection

            dispatcher = start_dispatcher(env, timedelta(minutes=3).total_seconds(), log)  # past the 2-minute lease
            wait_for(lambda: count(delivered) == len(devices), "every digest to be delivered after the restart")
        finally:
            service.release.set()
            stop(dispatcher)
            log.close()

        received = Counter(push.device for push in service.received)
        assert set(received) == set(devices), "every device got its digest"
        assert all(received[name] == 1 for name in first_devices), "acknowledged pushes are never sent again"
        assert all(received[name] == 1 for name in second_devices - in_flight_at_kill)
        assert all(received[name] <= 2 for name in in_flight_at_kill)
        for name in in_flight_at_kill:  # a repeat is the same push: the push service replaces it by its Topic
            pushes = [push for push in service.received if push.device == name]
            assert len({push.headers["Topic"] for push in pushes}) == 1
            assert len({repr(push.payload) for push in pushes}) == 1
        assert count(select(func.count()).select_from(Digest)) == len(first) + len(second), "one digest each"
        assert count(select(func.count()).select_from(Notification).where(Notification.digest_id.is_(None))) == 0
        assert service.rejected == []
        db.engine.dispose()
