"""Template routes of the PWA."""
from flask import Blueprint

bp = Blueprint("pages", __name__)
