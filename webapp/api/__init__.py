"""The versioned JSON API under /api/v1: one flask-smorest blueprint per feature."""


def register(api) -> None:
    from webapp.api import accounts, invitations, items, notifications, people, push

    for module in (accounts, invitations, people, items, notifications, push):
        api.register_blueprint(module.blp)
