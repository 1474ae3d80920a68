"""What protects the pages: CSRF on every form, security headers, token checks, health, errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import create_engine
from web_support import FORM, add_subscriber, csrf_from, make_app, outbox, subscriber

from digest.tokens import Tokens


@pytest.fixture
def app(services, clock):
    return make_app(services, clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tokens(settings):
    return Tokens(settings.secret_key)


@pytest.fixture
def ada(services, clock):
    return add_subscriber(services.sessions, clock.now, status="pending", confirmed_at=None)


def _posts(tokens, ada):
    manage = f"/manage/{tokens.make('manage', ada)}"
    return [
        ("/subscribe", FORM),
        ("/check", FORM),
        (f"/confirm/{tokens.make('confirm', ada)}", {}),
        (manage, {"keywords": "changed", "frequency": "weekly", "send_time": "09:00",
                  "timezone": "UTC", "weekday": "friday"}),
        (f"{manage}/pause", {}),
        (f"{manage}/resume", {}),
        (f"{manage}/resubscribe", {}),
        (f"{manage}/export", {}),
        (f"{manage}/delete", {}),
        (f"/unsubscribe/{tokens.make('unsubscribe', ada)}", {}),
    ]


@pytest.mark.parametrize("token", [None, "wrong-token", "IjEyMyI.abc.def"])
def test_every_form_refuses_a_post_without_a_valid_csrf_token(
    client, services, tokens, ada, token
):
    csrf_from(client.get("/").get_data(as_text=True))  # the session has a real token to match
    before = subscriber(services.sessions).__dict__.copy()
    for url, fields in _posts(tokens, ada):
        data = dict(fields) if token is None else {**fields, "csrf_token": token}
        answer = client.post(url, data=data)
        assert answer.status_code == 400, url
        assert "nothing was changed" in answer.get_data(as_text=True), url
    after = subscriber(services.sessions).__dict__
    for column in ("status", "keywords", "frequency", "paused", "confirmed_at"):
        assert after[column] == before[column]
    assert outbox(services.sessions) == []


def test_a_csrf_token_from_another_session_is_refused(app, services, tokens, ada):
    other = app.test_client()
    token = csrf_from(other.get("/").get_data(as_text=True))
    answer = app.test_client().post(f"/confirm/{tokens.make('confirm', ada)}",
                                    data={"csrf_token": token})
    assert answer.status_code == 400
    assert subscriber(services.sessions).status == "pending"


def test_pages_carry_the_security_headers_and_no_inline_script_or_style(client):
    answer = client.get("/")
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Frame-Options"] == "DENY"
    page = answer.get_data(as_text=True)
    assert "<script" not in page and " style=" not in page and "<style" not in page
    assert client.get("/static/style.css").status_code == 200


def test_token_pages_are_not_cached(client, tokens, ada):
    answer = client.get(f"/manage/{tokens.make('manage', ada)}")
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("purpose", ["confirm", "manage", "unsubscribe", "digest"])
def test_a_forged_token_gets_the_helpful_bad_link_page(client, purpose):
    answer = client.get(f"/{purpose}/WzEsIm5vbmNlLTEiXQ.forged.signature")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert "This link does not work" in page and 'href="/"' in page


def test_a_token_for_another_purpose_is_refused(client, tokens, ada):
    manage = tokens.make("manage", ada)
    for url in (f"/confirm/{manage}", f"/unsubscribe/{manage}", f"/digest/{manage}"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/manage/{tokens.make('unsubscribe', ada)}").status_code == 404


def test_a_tampered_token_is_refused(client, tokens, ada):
    token = tokens.make("manage", ada)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.get(f"/manage/{tampered}").status_code == 404


def test_a_confirm_link_older_than_7_days_gets_the_expired_page(
    client, services, tokens, ada, monkeypatch
):
    eight_days_ago = int((datetime.now(UTC) - timedelta(days=8)).timestamp())
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
        confirm = tokens.make("confirm", ada)
        manage = tokens.make("manage", ada)
        unsubscribe = tokens.make("unsubscribe", ada)
    for method in (client.get, client.post):
        answer = method(f"/confirm/{confirm}")
        assert answer.status_code == 400
    page = client.get(f"/confirm/{confirm}").get_data(as_text=True)
    assert "This link has expired" in page and 'href="/"' in page
    assert subscriber(services.sessions).status == "pending"
    assert client.get(f"/manage/{manage}").status_code == 200  # manage links never expire
    assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 200  # nor unsubscribe links


def test_links_die_when_the_nonce_is_rotated(client, services, tokens, ada):
    old = tokens.make("manage", ada)
    with services.sessions.begin() as session:
        session.merge(ada).token_nonce = "nonce-2"
    assert client.get(f"/manage/{old}").status_code == 404
    ada.token_nonce = "nonce-2"
    assert client.get(f"/manage/{tokens.make('manage', ada)}").status_code == 200


def test_healthz_answers_ok_while_the_database_answers(client):
    answer = client.get("/healthz")
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "ok")


def test_healthz_answers_503_when_the_database_is_down(services, clock):
    down = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none",
                         connect_args={"connect_timeout": 2})
    client = make_app(dataclasses.replace(services, engine=down), clock).test_client()
    assert client.get("/healthz").status_code == 503


def test_errors_get_pages_in_the_site_style(app, client):
    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/broken", view_func=broken)
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True)
    assert 'href="/static/style.css"' in missing.get_data(as_text=True)
    assert client.get("/subscribe").status_code == 405
    failed = client.get("/broken")
    assert failed.status_code == 500
    page = failed.get_data(as_text=True)
    assert "Something went wrong" in page and "boom" not in page


def test_an_https_base_url_adds_strict_transport_security(services, clock):
    https = dataclasses.replace(services.settings, base_url="https://digest.example.org")
    secure = make_app(dataclasses.replace(services, settings=https), clock).test_client()
    for url in ("/", "/healthz", "/static/style.css", "/no-such-page"):
        assert secure.get(url).headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = make_app(services, clock).test_client()
    assert "Strict-Transport-Security" not in plain.get("/").headers
