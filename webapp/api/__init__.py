"""The versioned JSON API under /api/v1: one flask-smorest blueprint per feature."""
from copy import deepcopy
from threading import Lock

import flask_smorest
from cachetools import LRUCache
from flask import request
from marshmallow import Schema, missing
from webargs.flaskparser import FlaskParser

from webapp.lean import plain_copy


class ApiParser(FlaskParser):
    """webargs' Flask parser, with two rules of Plate's.

    - An operation with a JSON body needs one: an absent body is a mistake, not an empty object (422).
    - A query string is parsed once per worker: the same schema and the same bytes give the same
      arguments, and the hottest reads (a plate, the inbox) repeat the same query all day. Query
      schemas are therefore pure functions of the query string (no clock, no caller); each request
      gets its own copy of the result, and invalid queries are parsed (and rejected) every time.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsed_queries: LRUCache = LRUCache(maxsize=1024)
        self._lock = Lock()

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        return None if data is missing else data  # None fails the schema as "not an object"

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        if location != "query" or not isinstance(argmap, Schema) or kwargs.get("validate"):
            return super().parse(argmap, req, location=location, **kwargs)
        key = (id(argmap), kwargs.get("unknown"), request.query_string)
        with self._lock:
            parsed = self._parsed_queries.get(key)
        if parsed is None:
            parsed = super().parse(argmap, req, location=location, **kwargs)
            with self._lock:
                self._parsed_queries[key] = parsed
        return plain_copy(parsed)


# Set before the feature modules import Blueprint's decorators, which read it.
flask_smorest.Blueprint.ARGUMENTS_PARSER = ApiParser()


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
