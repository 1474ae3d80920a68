"""Help pages linked from the forms: the keyword guide and the list of every timezone.

They change only with a release, so they are cacheable, and the forms need not carry them:
the subscribe page offers the common timezones inline (a <datalist>) and links here for the
rest, which keeps it small (SPEC §4 pages work without JavaScript and on a phone).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from digest.subscribers.validation import timezone_names

bp = Blueprint("help", __name__)

CACHE_FOR = "public, max-age=86400"
# Offered inline as suggestions; any IANA name may be typed (the server checks it).
COMMON_TIMEZONES = (
    "UTC", "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York",
    "America/Toronto", "America/Vancouver", "America/Mexico_City", "America/Sao_Paulo",
    "America/Buenos_Aires", "America/Bogota", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
    "Europe/Paris", "Europe/Berlin", "Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich",
    "Europe/Madrid", "Europe/Rome", "Europe/Vienna", "Europe/Stockholm", "Europe/Warsaw",
    "Europe/Prague", "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul", "Europe/Moscow",
    "Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Asia/Jerusalem",
    "Asia/Dubai", "Asia/Tehran", "Asia/Karachi", "Asia/Kolkata", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Singapore", "Asia/Hong_Kong", "Asia/Shanghai", "Asia/Taipei", "Asia/Seoul",
    "Asia/Tokyo", "Australia/Perth", "Australia/Adelaide", "Australia/Brisbane",
    "Australia/Sydney", "Australia/Melbourne", "Pacific/Auckland", "Pacific/Honolulu",
)  # fmt: skip


@bp.get("/help/keywords")
def keywords() -> ResponseReturnValue:
    """How keywords work, with examples (the same guide the subscribe page links to)."""
    return render_template("web/help_keywords.html"), 200, {"Cache-Control": CACHE_FOR}


@bp.get("/help/timezones")
def timezones() -> ResponseReturnValue:
    """Every timezone name the forms accept, grouped by region."""
    page = render_template("web/help_timezones.html", timezones=timezone_names())
    return page, 200, {"Cache-Control": CACHE_FOR}
