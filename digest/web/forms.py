"""The web forms (Flask-WTF, so every one carries a CSRF token), validated by the domain's rules.

Each field's validator is the same `clean_*` function the CSV import uses, so the web and the
command line accept exactly the same input; the cleaned value replaces what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, StringField, TextAreaField
from wtforms.validators import ValidationError

from digest.config import Settings
from digest.subscribers.validation import (
    MAX_EMAIL_LENGTH,
    MAX_KEYWORDS_LENGTH,
    WEEKDAYS,
    Preferences,
    clean_delivery,
    clean_email,
    clean_frequency,
    clean_keywords,
    clean_paper_ids,
    clean_send_time,
    clean_timezone,
    clean_weekday,
)


def domain_rule(clean: Callable[[str], Any]) -> Callable[[FlaskForm, Field], None]:
    """A WTForms validator running a domain `clean_*` function; its sentence is the error."""

    def validate(form: FlaskForm, field: Field) -> None:
        try:
            field.data = clean(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    return validate


class PreferencesForm(FlaskForm):
    """Keywords and schedule: the manage page's form, and most of the subscribe form."""

    keywords = TextAreaField("Keywords", [domain_rule(clean_keywords)])
    frequency = StringField("How often", [domain_rule(clean_frequency)], default="daily")
    weekday = StringField("Day of the week", [domain_rule(clean_weekday)], default="monday")
    send_time = StringField("Send time", [domain_rule(clean_send_time)])
    timezone = StringField("Timezone", [domain_rule(clean_timezone)])
    # A form sent without the field (an older page) keeps the default: email.
    delivery = StringField(
        "Delivery", [domain_rule(lambda value: clean_delivery(value or "email"))], default="email"
    )
    # SPEC §10: liked papers; the cleaned value is the bare ids, one per line.
    papers = TextAreaField(
        "Papers you like", [domain_rule(lambda v: "\n".join(clean_paper_ids(v)))]
    )

    def liked_ids(self) -> list[str]:
        """The validated liked papers' arXiv ids (call after `validate()` succeeded)."""
        return [line for line in (self.papers.data or "").splitlines() if line]

    def preferences(self) -> Preferences:
        """The validated values (call after `validate()` succeeded)."""
        return Preferences(
            keywords=self.keywords.data,
            frequency=self.frequency.data,
            weekday=self.weekday.data,
            send_time=self.send_time.data,
            timezone=self.timezone.data,
            delivery=self.delivery.data,
        )

    def show(self, name: str) -> str:
        """A field's value as the page shows it (weekday numbers become names)."""
        value = self[name].data
        if name == "weekday" and isinstance(value, int):
            return WEEKDAYS[value]
        return "" if value is None else str(value)


class SubscribeForm(PreferencesForm):
    """The subscribe form; `website` is a honeypot that people never see and bots fill in."""

    email = StringField("Email address", [domain_rule(clean_email)])
    website = StringField("Leave this empty")

    def is_bot(self) -> bool:
        """True when the hidden honeypot field came back filled in."""
        return bool((self.website.data or "").strip())


class ActionForm(FlaskForm):
    """A one-button form (confirm, pause, export, delete, …): nothing but the CSRF token."""


def defaults_for(settings: Settings) -> dict[str, str]:
    """The values a new subscriber sees: DIGEST_SEND_TIME and DIGEST_TIMEZONE (SPEC §2)."""
    return {
        "frequency": "daily",
        "weekday": "monday",
        "send_time": settings.send_time.strftime("%H:%M"),
        "timezone": settings.timezone,
        "delivery": "email",
    }


LIMITS = {"email": MAX_EMAIL_LENGTH, "keywords": MAX_KEYWORDS_LENGTH}
