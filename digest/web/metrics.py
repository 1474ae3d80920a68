"""GET /metrics: Prometheus text format (SPEC §12), for a bearer token or loopback clients only.

With DIGEST_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (else 401).
Unset, only clients on loopback are answered (else 404, as for a page that is not there): the
address is the one ProxyFix gives when DIGEST_PROXY_HOPS is set, so a reverse proxy on the same
machine does not make every visitor local unless it is declared.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from digest.operate.metrics import make_registry
from digest.web.context import web

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics, read from the database now."""
    context = web()
    token = context.services.settings.metrics_token
    if token is not None:
        if not _bearer_matches(request.headers.get("Authorization", ""), token):
            return Response(
                "a bearer token is required\n", 401, mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    elif not _is_loopback(request.remote_addr):
        abort(404)
    registry = make_registry(context.services.sessions, context.clock)
    return Response(generate_latest(registry), 200, content_type=CONTENT_TYPE_LATEST)


def _bearer_matches(header: str, token: str) -> bool:
    """Constant-time comparison of `Bearer <token>` with the configured token."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
