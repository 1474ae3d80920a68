"""Reading one bounce or complaint message: what it reports, and where a VERP token may be.

Pure: bytes in, a `Report` out, and it never raises: a message it cannot read is a Report of
kind "ignored" with the reason. Understood are RFC 3464 delivery status notifications
(multipart/report; report-type=delivery-status: per-recipient Action and Status, `5.x.x` hard,
`4.x.x` or Action `delayed` soft) and RFC 5965 feedback reports (report-type=feedback-report,
Feedback-Type `abuse` or `fraud`: a complaint). Auto-replies and everything else are ignored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

DIAGNOSTIC_MAX = 500
# Where the MTA that delivered the bounce to us wrote the address it was sent to.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"^\s*(?:smtp;\s*)?([245])\d\d\b", re.IGNORECASE)


@dataclass
class Report:
    """What one message reports: kind is hard, soft, complaint or ignored."""

    kind: str
    dedupe_key: str
    status: str | None = None
    diagnostic: str | None = None
    reason: str = ""
    # Header values in which to look for the VERP token, most trustworthy first.
    places: list[str] = field(default_factory=list)


def read_report(raw: bytes) -> Report:
    """Classify one message; never raises."""
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        message = message_from_bytes(raw, policy=compat32)
        message_id = _clean(message.get("Message-ID"))
        if message_id:
            key = "mid:" + message_id[:240]
        report = _classify(message, key)
        report.places = _places(message)
        return report
    except Exception as exc:
        return Report(kind="ignored", dedupe_key=key, reason=f"unreadable ({type(exc).__name__})")


def _classify(message: Message, key: str) -> Report:
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "") or "").lower()
        if report_type == "delivery-status":
            return _delivery_status(message, key)
        if report_type == "feedback-report":
            return _feedback(message, key)
        return Report("ignored", key, reason=f"a report of type {report_type or 'none'!r}")
    auto = _clean(message.get("Auto-Submitted")).lower()
    if auto.startswith("auto-replied") or message.get("X-Autoreply") or message.get(
        "X-Autorespond"
    ):
        return Report("ignored", key, reason="an auto-reply")
    return Report("ignored", key, reason="neither a delivery status notification nor a complaint")


def _delivery_status(message: Message, key: str) -> Report:
    """The worst per-recipient outcome of an RFC 3464 report: hard over soft over none."""
    blocks = _blocks(message, "message/delivery-status")
    best: Report | None = None
    for block in blocks[1:] or blocks:  # the first block is per-message; some MTAs merge them
        action = _clean(block.get("Action")).lower()
        status = _status(block)
        diagnostic = _clean(block.get("Diagnostic-Code"))[:DIAGNOSTIC_MAX] or None
        if action in ("delivered", "relayed", "expanded"):
            continue
        if status is None and diagnostic:
            code = _SMTP_CODE.match(diagnostic)
            status = f"{code.group(1)}.0.0" if code else None
        if action == "delayed" or (status or "").startswith("4"):
            kind = "soft"
        elif action == "failed" and (status is None or status.startswith("5")):
            kind = "hard"
        else:
            continue
        found = Report(kind, key, status=status, diagnostic=diagnostic)
        if best is None or (best.kind == "soft" and kind == "hard"):
            best = found
    if best is None:
        return Report("ignored", key, reason="a delivery status notification reporting no failure")
    return best


def _feedback(message: Message, key: str) -> Report:
    blocks = _blocks(message, "message/feedback-report")
    kind = _clean(blocks[0].get("Feedback-Type")).lower() if blocks else ""
    if kind in COMPLAINT_TYPES:
        return Report("complaint", key, status=kind, diagnostic=f"Feedback-Type: {kind}")
    return Report("ignored", key, reason=f"a feedback report of type {kind or 'none'!r}")


def _blocks(message: Message, content_type: str) -> list[Message]:
    """The header blocks of a report's machine-readable part (parsed, or decoded and parsed)."""
    for part in message.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        blocks = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
        if any(len(block.keys()) for block in blocks):
            return blocks
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
        parser = HeaderParser(policy=compat32)
        return [parser.parsestr(chunk.strip() + "\n") for chunk in re.split(r"\n\s*\n", text)
                if chunk.strip()]
    return []


def _status(block: Message) -> str | None:
    found = _STATUS.search(_clean(block.get("Status")))
    return ".".join(found.groups()) if found else None


def _places(message: Message) -> list[str]:
    """Header values that may hold the VERP address: the envelope's, then the returned message's."""
    places = [_clean(value) for name in ENVELOPE_HEADERS for value in message.get_all(name) or []]
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            for block in _blocks(message, kind):
                places += [_clean(v) for v in block.get_all("Original-Mail-From") or []]
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            places += [_clean(value) for value in _returned_headers(part).values()]
    return [place for place in places if place]


def _returned_headers(part: Message) -> Message:
    """The headers of the message a report returns (whole, or its headers alone)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
    return HeaderParser(policy=compat32).parsestr(text, headersonly=True)


def _clean(value: object) -> str:
    """A header value as one line of text (encoded words and odd types tolerated)."""
    if value is None:
        return ""
    return " ".join(str(value).split())
