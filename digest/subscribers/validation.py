"""What a person types, checked: address, keyword profile and schedule, or one sentence each.

The web forms and the CSV import both validate through here, so both accept exactly the same
addresses, profiles and schedules. Pure: no database, no Flask; subscriptions.py acts on the
SubscriptionRequest these checks return.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email

from digest.config import Settings
from digest.mail.message import HeaderInjection, check_single_address
from digest.matching import KeywordError, parse_profile

FREQUENCIES = ("daily", "weekly")
# email: digests are mailed (and kept in the personal feed); feed: the personal feed only (§11).
DELIVERIES = ("email", "feed")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_EMAIL_LENGTH = 254
MAX_KEYWORDS_LENGTH = 6000
# ASCII digits only: \d would also take Arabic-Indic or full-width digits, which int() reads
# but which would be stored as typed ("07:\u0660\u0660").
_SEND_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::00)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# C0 and C1 controls and DEL, except tab and the newlines that separate terms: a NUL fails the
# INSERT on PostgreSQL, and an ESC sequence would reach the operator's terminal through `list`.
_KEYWORD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InvalidSubscription(ValueError):
    """Input a person can correct: one sentence per field, keyed by the form's field name."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class Preferences:
    """What a subscriber chooses: their keyword profile and when digests arrive."""

    keywords: str
    frequency: str
    weekday: int
    send_time: str
    timezone: str
    delivery: str = "email"


@dataclass(frozen=True)
class SubscriptionRequest:
    """A validated subscribe form or CSV row."""

    email: str
    preferences: Preferences


@cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA timezone this machine knows, UTC first, then alphabetical."""
    names = available_timezones() - {"Factory", "localtime", "posixrules"}
    return ("UTC", *sorted(name for name in names if name != "UTC"))


@cache
def _timezones_by_lower_name() -> dict[str, str]:
    """Canonical timezone names by their lowercase spelling."""
    return {name.lower(): name for name in timezone_names()}


def clean_email(value: str | None) -> str:
    """The address normalised to lowercase; ValueError with one sentence if unusable."""
    text = (value or "").strip()
    if not text:
        raise ValueError("Enter your email address.")
    if _CONTROL.search(text):
        raise ValueError("The email address must be on one line, without control characters.")
    if len(text) > MAX_EMAIL_LENGTH:
        raise ValueError(f"The email address is longer than {MAX_EMAIL_LENGTH} characters.")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"That is not a usable email address: {exc}") from exc
    email = str(valid.ascii_email or valid.normalized).lower()
    try:
        # The address goes into a To header as well as RCPT TO: both must name the same mailbox.
        check_single_address(email)
    except HeaderInjection:
        raise ValueError(
            "That is not a usable email address: it must read as one plain address, "
            "without encoded words such as =?utf-8?q?…?=."
        ) from None
    return email


def clean_keywords(value: str | None) -> str:
    """The profile text, checked against the keyword language; ValueError naming the bad term."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValueError("Enter at least one keyword.")
    control = _KEYWORD_CONTROL.search(text)
    if control:
        raise ValueError(
            f"The keywords contain a control character (U+{ord(control[0]):04X}); "
            "use only letters, digits, punctuation, spaces and new lines."
        )
    if len(text) > MAX_KEYWORDS_LENGTH:
        raise ValueError(f"The keywords are longer than {MAX_KEYWORDS_LENGTH} characters.")
    try:
        profile = parse_profile(text)
    except KeywordError as exc:
        raise ValueError(str(exc)) from exc
    if not profile.terms:
        raise ValueError("Enter at least one keyword.")
    if not profile.positives:
        raise ValueError(
            "Add at least one term without a minus: minus terms only leave papers out."
        )
    return text


def clean_frequency(value: str) -> str:
    """`daily` or `weekly`."""
    frequency = value.strip().lower()
    if frequency not in FREQUENCIES:
        raise ValueError("Choose daily or weekly.")
    return frequency


def clean_delivery(value: str) -> str:
    """`email` or `feed`."""
    delivery = value.strip().lower()
    if delivery not in DELIVERIES:
        raise ValueError("Choose email or feed.")
    return delivery


def clean_weekday(value: str) -> int:
    """A weekday by name (`monday`, `mon`) or number (0 = Monday) as 0 to 6."""
    text = value.strip().lower()
    if text.isascii() and text.isdigit() and int(text) < 7:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValueError("Choose a day of the week.")


def clean_send_time(value: str) -> str:
    """A time of day as `HH:MM`."""
    found = _SEND_TIME.fullmatch(value.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError("Enter the send time as HH:MM, for example 07:30.")
    return f"{int(found[1]):02d}:{found[2]}"


def clean_timezone(value: str) -> str:
    """A known IANA timezone name, in its canonical spelling."""
    name = _timezones_by_lower_name().get(value.strip().lower())
    if name is None:
        raise ValueError("Choose a timezone from the list, such as Europe/Berlin.")
    return name


def validate_preferences(fields: Mapping[str, Any], defaults: Settings) -> Preferences:
    """Check keywords and schedule; a missing or blank schedule field takes the default."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    cleaners: dict[str, tuple[Callable[[Any], Any], str | None]] = {
        "keywords": (clean_keywords, None),
        "frequency": (clean_frequency, "daily"),
        "weekday": (clean_weekday, "monday"),
        "send_time": (clean_send_time, defaults.send_time.strftime("%H:%M")),
        "timezone": (clean_timezone, defaults.timezone),
        "delivery": (clean_delivery, "email"),
    }
    for name, (clean, default) in cleaners.items():
        raw = fields.get(name)
        if default is not None and (raw is None or not str(raw).strip()):
            raw = default
        try:
            values[name] = clean(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise InvalidSubscription(errors)
    return Preferences(**values)


def validate_subscription(fields: Mapping[str, Any], defaults: Settings) -> SubscriptionRequest:
    """Check a subscribe form or CSV row; InvalidSubscription holds every field's error."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = clean_email(fields.get("email"))
    except ValueError as exc:
        errors["email"] = str(exc)
    try:
        preferences = validate_preferences(fields, defaults)
    except InvalidSubscription as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidSubscription(errors)
    return SubscriptionRequest(email=email, preferences=preferences)


MAX_LIKED_PAPERS = 50
_NEW_ID = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?")
_OLD_ID = re.compile(r"([a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.I)
_PAPER_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf)|huggingface\.co/papers)/(.+?)"
    r"(?:\.pdf)?/?(?:[?#].*)?",
    re.I,
)


def clean_paper_ids(value: str | None) -> list[str]:
    """Liked papers (SPEC §10): arXiv ids (2401.01234, v-suffix allowed, astro-ph/0601001) or
    arXiv abs/pdf or Hugging Face paper URLs, one per line or comma-separated, at most 50.
    Returns the bare ids without versions; ValueError names the first malformed one."""
    items = [item.strip() for item in re.split(r"[\n,]+", value or "") if item.strip()]
    if len(items) > MAX_LIKED_PAPERS:
        raise ValueError(f"Give at most {MAX_LIKED_PAPERS} papers, not {len(items)}.")
    ids: list[str] = []
    for item in items:
        url = _PAPER_URL.fullmatch(item)
        candidate = url.group(1) if url else item
        found = _NEW_ID.fullmatch(candidate) or _OLD_ID.fullmatch(candidate)
        if found is None:
            shown = item if len(item) <= 60 else item[:57] + "…"
            raise ValueError(
                f'"{shown}" is not an arXiv id or an arXiv / Hugging Face paper link '
                "(for example 2401.01234 or https://arxiv.org/abs/2401.01234)."
            )
        if found.group(1) not in ids:
            ids.append(found.group(1))
    return ids
