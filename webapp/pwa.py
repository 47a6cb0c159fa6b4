"""The service worker at /sw.js and the web app manifest."""
from flask import Blueprint

bp = Blueprint("pwa", __name__)
