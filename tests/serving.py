"""A WSGI app on a free loopback port, served from a thread for the length of a test."""
import threading
from contextlib import contextmanager

from werkzeug.serving import make_server

# How often the serving loop looks for shutdown: the default half second would be paid by every test.
POLL_SECONDS = 0.02


@contextmanager
def served(app):
    """`app` on 127.0.0.1, one thread per request, as a real deployment would run it; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
