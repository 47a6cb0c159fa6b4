"""The physical ceiling for bench/api.py: a bare Flask app returning the same plate bytes from memory."""
import os

from flask import Flask, Response


def create_app() -> Flask:
    with open(os.environ["BARE_BODY_FILE"], "rb") as body_file:
        body = body_file.read()
    app = Flask(__name__)

    @app.get("/api/v1/people/<int:person_id>/plate")
    def plate(person_id: int) -> Response:
        return Response(body, mimetype="application/json")

    return app
