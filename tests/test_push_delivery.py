"""Real pushes, encrypted and VAPID-signed by PushSender, received by a loopback push service."""
import time
from concurrent.futures import CancelledError, Future
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from py_vapid import Vapid02

from tests.loopback_push import LoopbackPushService
from webapp.notifications.sender import PushSender, retry_at_from


@pytest.fixture
def vapid():
    key = Vapid02()
    key.generate_keys()
    return key


@pytest.fixture
def senders():
    """Makes PushSenders and closes them after the test."""
    made = []

    def make(*args, **kwargs):
        made.append(PushSender(*args, **kwargs))
        return made[-1]

    yield make
    for sender in made:
        sender.close()


@pytest.fixture
def service():
    with LoopbackPushService() as running:
        yield running


def stored(device):
    """A device as the database row holds it."""
    keys = device.subscription()["keys"]
    return SimpleNamespace(endpoint=device.endpoint, p256dh=keys["p256dh"], auth=keys["auth"])


def test_a_push_arrives_decryptable_with_its_headers(senders, service, vapid):
    sender = senders(vapid, "mailto:ops@plate.test")
    phone = service.device("phone")
    payload = {"title": "Plate", "body": "2 items", "url": "/", "count": 2, "items": [{"id": 1, "title": "Zoë's ✓ quote", "what": "added"}]}
    [outcome] = sender.send_all([sender.message(stored(phone), payload, ttl=7200, topic="abc_-123", urgency="high")])
    assert outcome.kind == "delivered" and outcome.status_code == 201
    assert service.rejected == []
    [received] = service.received
    assert received.payload == payload
    assert received.headers == {"TTL": "7200", "Topic": "abc_-123", "Urgency": "high"}
    assert received.vapid_claims["sub"] == "mailto:ops@plate.test"


def test_vapid_is_signed_once_per_push_service_not_per_push(senders, service, vapid, monkeypatch):
    signed = []
    original = vapid.sign
    monkeypatch.setattr(vapid, "sign", lambda claims: signed.append(dict(claims)) or original(claims))
    sender = senders(vapid, "mailto:ops@plate.test")
    devices = [service.device(f"d{n}") for n in range(20)]
    outcomes = sender.send_all([sender.message(stored(d), {"n": n}, 3600, "t", "normal") for n, d in enumerate(devices)])
    assert {o.kind for o in outcomes} == {"delivered"} and len(service.received) == 20
    assert len(signed) == 1 and signed[0]["aud"] == service.origin


def test_pushes_go_concurrently_over_pooled_connections(senders, service, vapid):
    import threading
    import time

    in_flight, peak, lock = 0, 0, threading.Lock()
    handle = service._handle

    def slow(*args):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        try:
            return handle(*args)
        finally:
            with lock:
                in_flight -= 1

    service._handle = slow
    sender = senders(vapid, "mailto:ops@plate.test", concurrency=8)
    devices = [service.device(f"d{n}") for n in range(40)]
    started = time.monotonic()
    outcomes = sender.send_all([sender.message(stored(d), {"n": 1}, 3600, "t", "normal") for d in devices])
    assert [o.kind for o in outcomes] == ["delivered"] * 40
    assert peak > 1 and time.monotonic() - started < 40 * 0.05


@pytest.mark.parametrize("status, headers, kind", [
    (404, {}, "gone"),
    (410, {}, "gone"),
    (413, {}, "too_large"),
    (429, {"Retry-After": "120"}, "retry"),
    (500, {}, "retry"),
    (503, {"Retry-After": "Wed, 25 Nov 2026 15:00:00 GMT"}, "retry"),
    (400, {}, "rejected"),
])
def test_push_service_answers_become_outcomes(senders, service, vapid, status, headers, kind):
    sender = senders(vapid, "mailto:ops@plate.test")
    phone = service.device("phone")
    service.answers["phone"].append((status, headers))
    [outcome] = sender.send_all([sender.message(stored(phone), {"n": 1}, 3600, "t", "normal")])
    assert (outcome.kind, outcome.status_code) == (kind, status)
    assert (outcome.retry_at is not None) == (kind == "retry")


def test_a_redirect_is_never_followed_so_pushes_go_only_to_the_stored_endpoint(senders, service, vapid):
    sender = senders(vapid, "mailto:ops@plate.test")
    phone, elsewhere = service.device("phone"), service.device("elsewhere")
    service.answers["phone"].append((307, {"Location": elsewhere.endpoint}))
    [outcome] = sender.send_all([sender.message(stored(phone), {"n": 1}, 3600, "t", "normal")])
    assert (outcome.kind, outcome.status_code) == ("rejected", 307)
    assert service.received == [] and service.rejected == []  # one POST, answered 307, and nothing more


def test_a_large_digest_is_posted_as_an_encrypted_octet_stream_in_one_go(senders, service, vapid):
    seen = []
    handle = service._handle
    service._handle = lambda path, headers, body: seen.append(headers) or handle(path, headers, body)
    sender = senders(vapid, "mailto:ops@plate.test")
    phone = service.device("phone")
    payload = {"title": "Plate", "body": "x" * 2500, "url": "/", "count": 0, "items": []}  # well over 1 KB encrypted
    [outcome] = sender.send_all([sender.message(stored(phone), payload, 3600, "t", "normal")])
    assert outcome.kind == "delivered" and service.received[0].payload == payload
    [headers] = seen
    assert headers["content-type"] == "application/octet-stream" and headers["content-encoding"] == "aes128gcm"
    assert "expect" not in headers  # no "100 Continue" round trip (a second's wait where a service ignores it)


def test_retry_after_seconds_dates_and_backoff():
    at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert retry_at_from("120", at, 1) == at + timedelta(seconds=120)
    assert retry_at_from("Wed, 25 Nov 2026 15:00:00 GMT", at, 1) == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    first, fifth = retry_at_from(None, at, 1), retry_at_from(None, at, 5)
    assert at + timedelta(seconds=15) <= first <= at + timedelta(seconds=30)
    assert at + timedelta(seconds=240) <= fifth <= at + timedelta(seconds=480)
    assert retry_at_from(None, at, 40) <= at + timedelta(hours=1)


def test_an_unreachable_push_service_is_retried_later(senders, vapid):
    from tests.loopback_push import Device

    sender = senders(vapid, "mailto:ops@plate.test", timeout=1)
    closed = Device("http://127.0.0.1:9/push/x")  # discard port: connection refused
    [outcome] = sender.send_all([sender.message(stored(closed), {"n": 1}, 3600, "t", "normal")])
    assert outcome.kind == "retry" and outcome.status_code is None and outcome.retry_at is not None


def test_a_push_service_whose_certificate_does_not_verify_gets_nothing(senders, vapid, tmp_path):
    import ssl
    import threading
    from datetime import datetime as clock
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from tests.loopback_push import Device

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    started = clock.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(started).not_valid_after(started + timedelta(days=1))
                   .sign(key, hashes.SHA256()))  # self-signed: no CA vouches for it
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    posted = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            posted.append(self.path)
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        sender = senders(vapid, "mailto:ops@plate.test", timeout=2)
        impostor = Device(f"https://127.0.0.1:{server.server_address[1]}/push/x")
        [outcome] = sender.send_all([sender.message(stored(impostor), {"n": 1}, 3600, "t", "normal")])
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.kind == "retry" and outcome.status_code is None
    assert posted == []  # the payload never left for a server that could not prove who it is


# --- end to end through the app -------------------------------------------------------------

@pytest.fixture
def subscribed(app, client, auth, ctx, service):
    """A manager and a report whose phone is subscribed (through the API) at the loopback push service."""
    from tests.factories import make_org, make_user
    from webapp.extensions import db

    app.config["PLATE_PUSH_ALLOWED_ORIGINS"] = [service.origin]
    org = make_org()
    boss = make_user(org, "Dana", time_zone="Europe/London")
    rep = make_user(org, "Noah", boss, time_zone="America/New_York")
    db.session.commit()
    phone = service.device("noah-phone")
    assert auth.login(rep).post("/api/v1/push/subscriptions", json=phone.subscription()).status_code == 201
    return boss, rep


def test_a_digest_reaches_the_device_on_the_dispatchers_pass(app, client, auth, subscribed, service):
    import time_machine

    from webapp.notifications import dispatcher

    boss, rep = subscribed
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False):
        auth.login(boss)
        client.post("/api/v1/items", json={"owner_id": rep.id, "title": "Update pipeline"})
        client.post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast for finance", "priority": "high"})
    with time_machine.travel(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), tick=False):  # 09:00 in New York
        report = dispatcher.tick(app)
    assert (report.digests, report.outcomes) == (1, {"delivered": 1})
    assert service.rejected == []
    [push] = service.received
    assert push.payload["count"] == 2
    assert {line["title"] for line in push.payload["items"]} == {"Update pipeline", "Forecast for finance"}
    assert push.headers["Urgency"] == "normal" and 3600 <= int(push.headers["TTL"]) <= 86400


def test_send_a_test_pushes_at_once_even_in_quiet_hours(app, client, auth, subscribed, service):
    import time_machine

    _, rep = subscribed
    with time_machine.travel(datetime(2026, 11, 26, 4, 0, tzinfo=UTC), tick=False):  # 23:00 in New York
        auth.login(rep)
        response = client.post("/api/v1/push/test")
    assert response.status_code == 200 and response.json == {"devices": 1, "delivered": 1}
    [push] = service.received
    assert push.payload["title"] and push.headers["Urgency"] == "high"


def test_send_a_test_without_devices_says_so(app, client, auth, ctx):
    from tests.factories import make_org, make_user
    from webapp.extensions import db

    user = make_user(make_org())
    db.session.commit()
    assert auth.login(user).post("/api/v1/push/test").json == {"devices": 0, "delivered": 0}


@pytest.mark.parametrize("processes", [0, 2])
def test_held_pushes_are_posted_only_once_released_and_never_if_refused(senders, service, vapid, processes):
    """What the dispatcher relies on to encrypt a batch while its lease is being committed."""
    sender = senders(vapid, "mailto:ops@plate.test", processes=processes)
    sender.start()
    phones = [service.device(f"phone-{n}") for n in range(4)]

    def pushes(label: str) -> list:
        return [sender.message(stored(phone), {"title": f"{label} {n}", "body": "", "url": "/", "count": 0, "items": []},
                               ttl=3600, topic="t", urgency="normal") for n, phone in enumerate(phones)]

    committed, rolled_back = Future(), Future()
    kept = sender.submit(pushes("Kept"), release=committed)
    dropped = sender.submit(pushes("Dropped"), release=rolled_back)
    time.sleep(0.5)  # time to encrypt and post these pushes many times over
    assert service.received == []

    rolled_back.set_result(False)
    committed.set_result(True)
    assert [outcome.kind for outcome in kept.result(timeout=20)] == ["delivered"] * 4
    with pytest.raises(CancelledError):
        dropped.result(timeout=20)
    assert sorted(received.payload["title"] for received in service.received) == [f"Kept {n}" for n in range(4)]


def test_worker_processes_send_decryptable_pushes_and_answer_in_order(senders, service, vapid):
    sender = senders(vapid, "mailto:ops@plate.test", processes=2)
    phones = [service.device(f"phone-{n}") for n in range(7)]
    service.answers["phone-3"].append((410, {}))
    messages = [sender.message(stored(phone), {"title": f"Digest {n}", "body": "", "url": "/", "count": 0, "items": []},
                               ttl=3600, topic="t", urgency="normal") for n, phone in enumerate(phones)]

    outcomes = sender.send_all(messages)

    assert [outcome.kind for outcome in outcomes] == ["delivered"] * 3 + ["gone"] + ["delivered"] * 3
    assert service.rejected == []
    assert sorted(received.payload["title"] for received in service.received) == [
        f"Digest {n}" for n in range(7) if n != 3]
