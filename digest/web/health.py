"""GET /healthz: 200 "ok" while the database answers `SELECT 1`, 503 otherwise."""

from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from digest.web.context import web

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """For load balancers and uptime checks."""
    try:
        # A read session: on SQLite it never waits for the write lock a busy writer holds.
        with web().services.reads() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return Response("database unavailable", 503, mimetype="text/plain")
    return Response("ok", 200, mimetype="text/plain")
