"""Hostile input on the subscribe form: refused with the error next to the field, nothing stored."""

from __future__ import annotations

import pytest
from web_support import make_app, outbox, subscribe, subscriber


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("keywords", "robots\x00"),
        ("keywords", "robots\x1b[31m red"),
        ("keywords", "robots\u009b2J"),
        ("send_time", "\u0660\u0667:\u0660\u0660"),
        ("send_time", "07:\u0660\u0660"),
    ],
)
def test_control_characters_and_non_ascii_digits_are_refused_next_to_the_field(
    client, services, field, value
) -> None:
    answer = subscribe(client, **{field: value})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in page
    assert subscriber(services.sessions) is None
    assert outbox(services.sessions) == []
