"""Signed tokens whose ids are huge, negative, lists or bools answer 404, never 500 (issue 8, 11b).

Such a token can only be made with the secret key, but a leaked or an old-format key must not
turn into a crash: the ids are checked to be ints that fit a 64-bit column before any query."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from web_support import add_subscriber, make_app

BAD_IDS = [10**30, -1, 0, 2**63, [1], {"id": 1}, True, 1.5, "1", None]


def _forge(secret: str, purpose: str, payload: list) -> str:
    return str(URLSafeTimedSerializer(secret, salt=f"digest.{purpose}").dumps(payload))


@pytest.fixture
def client(services, clock):
    return make_app(services, clock, WTF_CSRF_ENABLED=False).test_client()


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_every_route_answers_404_for_a_token_with_a_bad_subscriber_id(client, services, bad):
    secret = services.settings.secret_key
    answers = {}
    for purpose, path, method, extra in [
        ("confirm", "/confirm/{}", "GET", []),
        ("confirm", "/confirm/{}", "POST", []),
        ("rejoin", "/confirm/{}", "GET", [0]),
        ("rejoin", "/confirm/{}", "POST", [0]),
        ("manage", "/manage/{}", "GET", []),
        ("manage", "/manage/{}", "POST", []),
        ("manage", "/manage/{}/delete", "GET", []),
        ("manage", "/manage/{}/export", "POST", []),
        ("unsubscribe", "/unsubscribe/{}", "GET", []),
        ("unsubscribe", "/unsubscribe/{}", "POST", []),
        ("digest", "/digest/{}", "GET", [1]),
    ]:
        url = path.format(_forge(secret, purpose, [bad, "nonce-1", *extra]))
        data = b"List-Unsubscribe=One-Click" if purpose == "unsubscribe" else None
        answer = client.open(url, method=method, data=data)
        answers[f"{method} {path} ({purpose})"] = answer.status_code
    assert set(answers.values()) == {404}, answers


@pytest.mark.parametrize("bad", [b for b in BAD_IDS if b is not None], ids=repr)
def test_a_digest_token_with_a_bad_digest_id_answers_404(client, services, clock, bad):
    stored = add_subscriber(services.sessions, clock())
    token = _forge(services.settings.secret_key, "digest", [stored.id, stored.token_nonce, bad])
    assert client.get(f"/digest/{token}").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [["x", "n"], [1], [1, "n", 0, ["kw", "daily", 10**30, "07:00", "UTC"], 5],
     [1, "n", 10**30, ["kw"]], [1, "n", True], [1, "n", 0, ["kw", "daily", "0", "07:00", "UTC"]]],
    ids=repr,
)
def test_malformed_rejoin_payloads_answer_404(client, services, clock, payload):
    add_subscriber(services.sessions, clock(), status="unsubscribed")
    token = _forge(services.settings.secret_key, "rejoin", payload)
    assert client.get(f"/confirm/{token}").status_code == 404
    assert client.post(f"/confirm/{token}").status_code == 404
