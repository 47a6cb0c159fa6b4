"""The versioned JSON API under /api/v1: one flask-smorest blueprint per feature."""
from flask_smorest import Blueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser


class BodyRequiredParser(FlaskParser):
    """An operation with a JSON body needs one: an absent body is a mistake, not an empty object (422)."""

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        return None if data is missing else data  # None fails the schema as "not an object"


# Set before the feature modules import Blueprint's decorators, which read it.
Blueprint.ARGUMENTS_PARSER = BodyRequiredParser()


def register(api) -> None:
    from webapp.api import (
        accounts, invitations, items, notifications, people, push, record, review, stats, team, team_requests,
    )

    for module in (accounts, invitations, people, items, team_requests, team, record, review, stats, notifications, push):
        api.register_blueprint(module.blp)
