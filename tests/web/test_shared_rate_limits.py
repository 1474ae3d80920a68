"""DIGEST_RATELIMIT_STORAGE_URL: web processes sharing a Redis count one limit (SPEC §12)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from web_support import csrf_from, make_app

from digest.config import ConfigError, load_settings
from digest.db import utcnow
from digest.operate.password import set_password
from digest.services import Services

PASSWORD = "correct horse battery staple"


def two_apps(services, clock, storage: str | None):
    """Two apps, as two gunicorn workers would be, on the same database and store."""
    settings = dataclasses.replace(services.settings, ratelimit_storage_url=storage)
    shared = Services(settings, services.engine, services.sessions)
    return make_app(shared, clock), make_app(shared, clock)


def wrong_logins(apps, count: int) -> list[int]:
    """`count` wrong passwords from one client address, alternating between the apps."""
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # a fresh client each run
    clients = [app.test_client() for app in apps]
    statuses = []
    for i in range(count):
        client = clients[i % len(clients)]
        page = client.get("/admin", environ_base={"REMOTE_ADDR": address})
        response = client.post(
            "/admin/login", environ_base={"REMOTE_ADDR": address},
            data={"csrf_token": csrf_from(page.get_data(as_text=True)), "password": "wrong!!!"},
        )
        statuses.append(response.status_code)
    return statuses


@pytest.fixture
def with_password(services):
    with services.sessions.begin() as session:
        set_password(session, PASSWORD, now=utcnow())


def test_two_processes_sharing_redis_count_one_login_limit(services, clock, redis_url,
                                                            with_password):
    assert wrong_logins(two_apps(services, clock, redis_url), 6) == [400] * 5 + [429]


def test_without_a_shared_store_each_process_counts_alone(services, clock, with_password):
    assert wrong_logins(two_apps(services, clock, None), 6) == [400] * 6


def test_an_unreachable_store_falls_back_to_memory_and_pages_still_answer(
    services, clock, with_password
):
    from smtp_fixture import free_port

    apps = two_apps(services, clock, f"redis://127.0.0.1:{free_port()}/0")
    assert wrong_logins(apps[:1], 6) == [400] * 5 + [429]


@pytest.mark.parametrize("value", ["nosuch://x", "127.0.0.1:6379", "async+redis://127.0.0.1"])
def test_a_storage_url_digest_cannot_use_stops_start_up_naming_the_variable(tmp_path, value):
    with pytest.raises(ConfigError, match="DIGEST_RATELIMIT_STORAGE_URL"):
        load_settings({"DIGEST_RATELIMIT_STORAGE_URL": value, "DIGEST_SECRET_KEY": "k"},
                      instance_path=tmp_path)


def test_a_redis_storage_url_is_accepted_without_connecting(tmp_path):
    settings = load_settings({"DIGEST_RATELIMIT_STORAGE_URL": "redis://192.0.2.1:6379/3",
                              "DIGEST_SECRET_KEY": "k"}, instance_path=tmp_path)
    assert settings.ratelimit_storage_url == "redis://192.0.2.1:6379/3"
