"""A WSGI app on a free loopback port, served from a thread for the length of a test."""
import threading
from contextlib import contextmanager

from werkzeug.serving import make_server

# How often the serving loop looks for shutdown: the default half second would be paid by every test.
POLL_SECONDS = 0.02


class _Finishing:
    """The app with two changes for tests: bodies are read before they are sent, and requests are counted.

    When a browser drops a connection, werkzeug's server gives up before closing the response, and the
    file it was sending is left for the garbage collector (a ResourceWarning, an error here); production's
    gunicorn closes it. Counting lets the test wait for requests still running (a page's background
    reads) before its app and database connections go away.
    """

    def __init__(self, app):
        self.app = app
        self.running = 0
        self.idle = threading.Condition()

    def __call__(self, environ, start_response):
        with self.idle:
            self.running += 1
        try:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()
        finally:
            with self.idle:
                self.running -= 1
                self.idle.notify_all()

    def wait_until_idle(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.running == 0, timeout)


@contextmanager
def served(app):
    """`app` on 127.0.0.1, one thread per request, as a real deployment would run it; yields its base URL."""
    finishing = _Finishing(app)
    server = make_server("127.0.0.1", 0, finishing, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        finishing.wait_until_idle(timeout=10)
