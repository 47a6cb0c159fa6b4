"""The versioned JSON API under /api/v1: one flask-smorest blueprint per feature."""
from copy import deepcopy

import flask_smorest
from marshmallow import missing
from webargs.flaskparser import FlaskParser


class BodyRequiredParser(FlaskParser):
    """An operation with a JSON body needs one: an absent body is a mistake, not an empty object (422)."""

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        return None if data is missing else data  # None fails the schema as "not an object"


# Set before the feature modules import Blueprint's decorators, which read it.
flask_smorest.Blueprint.ARGUMENTS_PARSER = BodyRequiredParser()


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, plus `@blp.headers(...)`: request headers an operation reads, documented
    beside its other parameters (`@blp.doc(parameters=...)` would replace those from `@blp.arguments`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_headers_doc)

    @staticmethod
    def headers(*parameters: dict):
        def decorator(func):
            func._apidoc = deepcopy(getattr(func, "_apidoc", {}))
            func._apidoc["headers"] = [*func._apidoc.get("headers", []), *parameters]
            return func

        return decorator

    @staticmethod
    def _prepare_headers_doc(doc, doc_info, **_kwargs):
        if doc_info.get("headers"):
            doc.setdefault("parameters", []).extend(doc_info["headers"])
        return doc


def register(api) -> None:
    from webapp.api import (
        accounts, invitations, items, notifications, people, push, record, review, stats, team, team_requests,
    )

    for module in (accounts, invitations, people, items, team_requests, team, record, review, stats, notifications, push):
        api.register_blueprint(module.blp)
