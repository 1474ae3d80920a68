"""The dashboard's door (SPEC §12): 404 without a password, login, rate limit, CSRF, expiry."""

from __future__ import annotations

import dataclasses

import pytest
from web_support import csrf_from, make_app

from digest.operate.password import set_password
from digest.services import Services

PASSWORD = "correct horse battery staple"


@pytest.fixture
def with_password(services):
    with services.sessions.begin() as session:
        set_password(session, PASSWORD, now=services_now())


def services_now():
    from digest.db import utcnow

    return utcnow()


@pytest.fixture
def app(services, clock):
    return make_app(services, clock)


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, password: str = PASSWORD):
    page = client.get("/admin")
    return client.post("/admin/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                             "password": password})


def test_without_a_password_every_admin_url_answers_404_like_an_unknown_page(client):
    unknown = client.get("/no-such-page")
    for method, url in [("get", "/admin"), ("post", "/admin/login"), ("post", "/admin/logout"),
                        ("get", "/admin/")]:
        response = getattr(client, method)(url, data={"password": "x" * 20})
        assert response.status_code == 404, url
        assert response.get_data() == unknown.get_data()


def test_the_right_password_opens_the_dashboard(client, with_password):
    page = client.get("/admin")
    assert page.status_code == 200
    assert 'type="password"' in page.get_data(as_text=True)
    assert "Subscribers by state" not in page.get_data(as_text=True)
    response = login(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin")
    dashboard = client.get("/admin").get_data(as_text=True)
    assert "Subscribers by state" in dashboard and "<svg" in dashboard


def test_a_wrong_password_gets_the_same_answer_whatever_it_is(client, with_password):
    answers = []
    for attempt in ["wrong password!!", "", PASSWORD.upper(), PASSWORD + " "]:
        response = login(client, attempt)
        assert response.status_code == 400
        body = response.get_data(as_text=True)
        assert "That password is not right." in body
        answers.append(body.replace(csrf_from(body), ""))
    assert len(set(answers)) == 1
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)


def test_login_is_rate_limited_per_client(client, with_password):
    for _ in range(5):
        assert login(client, "not the password").status_code == 400
    response = login(client, PASSWORD)  # the right one too: the limit is on attempts
    assert response.status_code == 429
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)
    other = client.application.test_client()
    page = other.get("/admin", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    token = csrf_from(page.get_data(as_text=True))
    response = other.post("/admin/login", data={"csrf_token": token, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 303  # another client is not limited by the first one


def test_login_and_logout_need_the_csrf_token(client, with_password):
    client.get("/admin")
    assert client.post("/admin/login", data={"password": PASSWORD}).status_code == 400
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)
    assert login(client).status_code == 303
    assert client.post("/admin/logout").status_code == 400
    page = client.get("/admin").get_data(as_text=True)
    assert "Subscribers by state" in page
    assert client.post("/admin/logout", data={"csrf_token": csrf_from(page)}).status_code == 303
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)


def test_a_login_ends_after_twelve_hours_by_the_clock(client, with_password, clock):
    login(client)
    clock.advance(hours=11, minutes=59)
    assert "Subscribers by state" in client.get("/admin").get_data(as_text=True)
    clock.advance(minutes=2)
    page = client.get("/admin").get_data(as_text=True)
    assert "Subscribers by state" not in page and 'type="password"' in page


def test_a_new_password_ends_every_login(client, with_password, services):
    login(client)
    assert "Subscribers by state" in client.get("/admin").get_data(as_text=True)
    with services.sessions.begin() as session:
        set_password(session, "an entirely new passphrase", now=services_now())
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)
    assert login(client, "an entirely new passphrase").status_code == 303


def test_the_login_cookie_is_httponly_samesite_and_expires(client, with_password):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # the default base URL is http://127.0.0.1


def test_the_login_cookie_is_secure_when_the_base_url_is_https(services, clock, with_password):
    settings = dataclasses.replace(services.settings, base_url="https://digest.example.org")
    app = make_app(Services(settings, services.engine, services.sessions), clock)
    client = app.test_client()
    page = client.get("/admin", base_url="https://digest.example.org")
    response = client.post(
        "/admin/login", base_url="https://digest.example.org",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "password": PASSWORD},
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_forged_session_does_not_log_in(app, client, with_password, clock):
    """A cookie signed with another key, or a login from before the password existed, fails."""
    from flask.sessions import SecureCookieSessionInterface

    other = make_app(dataclasses.replace(
        client.application.extensions["digest"].services,
        settings=dataclasses.replace(app.extensions["digest"].services.settings,
                                     secret_key="another key"),
    ), clock)
    serializer = SecureCookieSessionInterface().get_signing_serializer(other)
    forged = serializer.dumps({"admin": {"since": clock.now.isoformat(), "key": "0" * 64}})
    client.set_cookie("session", forged)
    assert "Subscribers by state" not in client.get("/admin").get_data(as_text=True)


def test_the_dashboard_is_not_cached_and_keeps_the_strict_csp(client, with_password):
    login(client)
    response = client.get("/admin")
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    body = response.get_data(as_text=True)
    assert "<script" not in body and "style=" not in body and "<style" not in body


def test_forms_work_on_https_although_no_referer_is_ever_sent(services, clock):
    """Flask-WTF's HTTPS Referer check would refuse every POST under Referrer-Policy no-referrer."""
    from web_support import FORM

    settings = dataclasses.replace(services.settings, base_url="https://digest.example.org")
    client = make_app(Services(settings, services.engine, services.sessions), clock).test_client()
    page = client.get("/", base_url="https://digest.example.org")
    response = client.post("/subscribe", base_url="https://digest.example.org",
                           data={**FORM, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_after_a_day_of_sends_the_dashboard_shows_the_real_figures(
    smtp_services, smtp_server, clock, feeds_dir, with_password
):
    from ops_support import DEFERRED, FEEDS, day_of_sends

    day_of_sends(smtp_services, smtp_server, clock, feeds_dir)
    clock.advance(hours=2)
    client = make_app(smtp_services, clock).test_client()
    login(client)
    page = client.get("/admin").get_data(as_text=True)
    # Tiles: 5 confirmed, 1 pending, 5 digests composed, 1 waiting for 2 hours.
    for label, value in [("Confirmed", "5"), ("Pending", "1"), ("Digests composed", "5"),
                         ("Waiting to send", "1"), ("Oldest waiting", "2 h 0 min")]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page, label
    # The messages table: today's row is 3 sent, 1 deferred, 1 failed.
    assert "<tr><th scope=\"row\">2026-04-27</th><td>3</td><td>1</td><td>1</td></tr>" in page
    assert "2026-04-27: 3 sent" in page  # the bar's tooltip
    for name in FEEDS:
        assert name in page  # the papers legend and the feeds list
    assert "agent*" in page and DEFERRED not in page  # keywords yes, addresses never


def test_everything_a_subscriber_or_feed_wrote_is_escaped(services, clock, with_password):
    from digest.models import Source, Subscriber

    evil = '<script>alert("x")</script>'
    with services.sessions.begin() as session:
        session.add(Subscriber(email="e@example.org", status="confirmed", keywords=evil,
                               token_nonce="n", created_at=clock.now, confirmed_at=clock.now))
        session.add(Source(url="https://feed.example/<b>", last_fetched_at=clock.now,
                           last_error=evil))
    client = make_app(services, clock).test_client()
    login(client)
    page = client.get("/admin").get_data(as_text=True)
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_bounces_and_complaints_are_charted_per_day(services, clock, with_password):
    from digest.models import Bounce

    with services.sessions.begin() as session:
        for number, kind in enumerate(["hard", "hard", "soft", "complaint", "ignored"]):
            session.add(Bounce(dedupe_key=f"<b{number}@mta>", kind=kind, received_at=clock.now))
    client = make_app(services, clock).test_client()
    login(client)
    page = client.get("/admin").get_data(as_text=True)
    assert "Bounces and complaints per day" in page
    day = clock.now.date().isoformat()
    # hard 2, soft 1, complaint 1; an ignored message is not a bounce.
    assert f'<tr><th scope="row">{day}</th><td>2</td><td>1</td><td>1</td></tr>' in page
