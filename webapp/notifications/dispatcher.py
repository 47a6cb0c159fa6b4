"""Running the dispatcher for an app: one pass, a loop, or a thread inside `make run`'s server."""
import fcntl
import gc
import logging
import threading
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.engine import make_url

from webapp.extensions import db
from webapp.notifications import worker
from webapp.notifications.keys import load_vapid

log = logging.getLogger(__name__)


def sender_for(app: Flask):
    """The app's push sender for the few pushes a request sends (POST /push/test), in this process; made once."""
    return _sender(app, "plate_push_sender", processes=0)


def dispatch_sender_for(app: Flask):
    """The dispatcher's push sender: encryption and POSTs in PLATE_PUSH_PROCESSES worker processes; made once."""
    return _sender(app, "plate_dispatch_sender", processes=app.config["PLATE_PUSH_PROCESSES"])


def _sender(app: Flask, name: str, processes: int):
    sender = app.extensions.get(name)
    if sender is None:
        from webapp.notifications.sender import PushSender

        sender = PushSender(load_vapid(app), app.config["PLATE_VAPID_SUBJECT"], processes=processes)
        app.extensions[name] = sender
    return sender


def tick(app: Flask, name: str = "dispatcher") -> worker.PassReport:
    """One pass; on SQLite only while no other dispatcher of the same database file is in a pass."""
    with app.app_context(), sqlite_pass_lock(app) as ours:
        if not ours:
            log.info("another dispatcher is in a pass on this SQLite database; this one waits for the next")
            return worker.PassReport()
        try:
            return worker.tick(db.session, dispatch_sender_for(app), app.config["SECRET_KEY"], name=name)
        finally:
            db.session.remove()


@contextmanager
def sqlite_pass_lock(app: Flask):
    """Yields whether this dispatcher may run a pass now.

    SQLite has one writer and no SKIP LOCKED, so two dispatchers of one database file (say `make run`'s
    in-process one and a `flask push run`) take turns: a pass holds an exclusive lock on a file beside the
    database, and one that finds it held skips. The operating system releases the lock of a dispatcher
    that dies. PostgreSQL dispatchers need no lock: they claim work with FOR UPDATE SKIP LOCKED.
    """
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield True
        return
    with open(f"{url.database}.dispatch-lock", "a+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def settle_heap() -> None:
    """Take what this process holds by now (modules, the app, SQLAlchemy's compiled statements) out of the
    garbage collector's sight, for the rest of the process's life.

    A dispatcher lives long and so do those objects, yet every full collection walks them all: about
    55 ms for the 134,000 objects of a started Plate, landing in the middle of a pass every few passes
    (a pass that sends 1,000 digests takes about 250 ms). What passes allocate is still collected.
    """
    gc.collect()
    gc.freeze()


def run(app: Flask, interval: float, stop: threading.Event | None = None, name: str = "dispatcher") -> None:
    """Pass after pass until `stop` is set; a failed pass is logged and the next one tries again."""
    stop = stop or threading.Event()
    settle_heap()
    while not stop.is_set():
        try:
            report = tick(app, name)
            if report.digests or report.sent or report.reminders:
                log.info("push pass: %d reminders, %d digests, %d sends %s",
                         report.reminders, report.digests, report.sent, report.outcomes)
        except Exception:
            log.exception("push pass failed; the next pass retries")
        stop.wait(interval)


def start_in_process(app: Flask, interval: float) -> threading.Event:
    """Dispatch from a daemon thread of this server (what `make run` uses); returns its stop switch."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, interval, stop, "in-process"), name="plate-dispatcher", daemon=True).start()
    log.info("push dispatcher running in-process every %.0f s", interval)
    return stop
