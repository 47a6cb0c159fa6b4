"""Template routes of the PWA: each page is a data-free shell that reads and writes only through /api/v1."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

bp = Blueprint("pages", __name__)

# The pages of the signed-in app: one shell, the page's module picks its view from the path.
APP_PAGES = {
    "plate": "/",
    "person_plate": "/people/<int:person_id>",
    "team": "/team",
    "item": "/items/<int:item_id>",
    "settings": "/settings",
    "inbox": "/inbox",
    "team_request": "/requests/<int:request_id>",
    "record": "/people/<int:person_id>/record",
    "review": "/review",
}


def _app_shell(**_ids):
    """Send anonymous visitors to log in; the service worker serves the same shell offline."""
    if not current_user.is_authenticated:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    return render_template("app.html")


for _name, _rule in APP_PAGES.items():
    bp.add_url_rule(_rule, _name, _app_shell)


@bp.get("/shell")
def shell():
    """The app shell the service worker precaches and serves for every app page."""
    return render_template("app.html")


@bp.get("/login")
def login():
    return render_template("auth.html", view="login", title="Log in")


@bp.get("/signup")
def signup():
    return render_template("auth.html", view="signup", title="Start your team's plates")


@bp.get("/invite/<token>")
def accept_invitation(token: str):
    return render_template("auth.html", view="invite", title="Join your team", token=token)


@bp.get("/logout")
def logout():
    """Logging out clears this device's cached data too, which only the page's script can do."""
    return render_template("auth.html", view="logout", title="Logging out")
