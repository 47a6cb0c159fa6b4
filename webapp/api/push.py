"""Web Push plumbing: the VAPID public key, this device's subscription, and a test push."""
from flask import current_app
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.notifications import dispatcher, keys, worker
from webapp.schemas import (
    EndpointIn,
    PublicKeyOut,
    PushTestOut,
    SubscriptionIn,
    SubscriptionOut,
)
from webapp.services import notifications

blp = Blueprint("push", __name__, url_prefix="/api/v1/push", description="Web Push subscriptions")


@blp.get("/public-key")
@blp.response(200, PublicKeyOut)
def public_key():
    """The VAPID application server key (base64url) for pushManager.subscribe."""
    return {"public_key": keys.application_server_key(keys.load_vapid(current_app))}


@blp.get("/subscriptions")
@blp.response(200, SubscriptionOut(many=True))
def list_subscriptions():
    """Your devices that get pushes, newest first: a page compares its own subscription with these on every
    visit and posts it again when the server no longer has it (a 404/410 removed it, or it changed)."""
    return notifications.subscriptions_of(db.session, actor())


@blp.post("/subscriptions")
@blp.arguments(SubscriptionIn())
@blp.response(201, SubscriptionOut)
@blp.alt_response(200, schema=SubscriptionOut, description="This endpoint was already registered")
def subscribe(data):
    """Register this device with the browser's PushSubscription.toJSON(); the same endpoint again answers 200."""
    subscription, created = notifications.subscribe(
        db.session, actor(), data, current_app.config["PLATE_PUSH_ALLOWED_ORIGINS"])
    db.session.commit()
    return subscription, 201 if created else 200


@blp.delete("/subscriptions")
@blp.arguments(EndpointIn())
@blp.response(204)
def unsubscribe(data):
    """Stop pushing to this device."""
    notifications.unsubscribe(db.session, actor(), data["endpoint"])
    db.session.commit()


@blp.post("/test")
@blp.response(200, PushTestOut)
def send_test():
    """Send one notification to your devices at once, quiet hours or not: you asked for it."""
    devices, delivered = worker.send_test_push(
        db.session, dispatcher.sender_for(current_app), actor(), current_app.config["SECRET_KEY"])
    return {"devices": devices, "delivered": delivered}
