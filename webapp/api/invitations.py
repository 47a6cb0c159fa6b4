"""Inviting people into an organization, and accepting an invitation."""
from flask import request
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.auth.guard import start_session
from webapp.extensions import db
from webapp.schemas import (
    AcceptIn,
    InvitationIn,
    InvitationOut,
    InvitationPreviewOut,
    UserEnvelopeOut,
)
from webapp.services import people

blp = Blueprint("invitations", __name__, url_prefix="/api/v1/invitations", description="Invitations")


@blp.post("")
@blp.arguments(InvitationIn())
@blp.response(201, InvitationOut)
def create_invitation(data):
    """Invite someone by email; they report to `manager_id`, by default to you. Valid for 7 days, once."""
    invitation, token = people.invite(db.session, actor(), data)
    db.session.commit()
    url = f"{request.host_url}invite/{token}"
    return {"id": invitation.id, "token": token, "url": url, "expires_at": invitation.expires_at}


@blp.get("/<token>")
@blp.response(200, InvitationPreviewOut)
def preview_invitation(token):
    """Who is invited, by whom and to which organization; 404 unknown, 410 used or expired."""
    return people.invitation_preview(db.session, token)


@blp.post("/<token>/accept")
@blp.arguments(AcceptIn())
@blp.response(201, UserEnvelopeOut)
def accept_invitation(data, token):
    """Create your account from an invitation and log in; 404 unknown, 410 used or expired."""
    user = people.accept_invitation(db.session, token, data)
    db.session.commit()
    return {"user": user, "csrf_token": start_session(user)}
