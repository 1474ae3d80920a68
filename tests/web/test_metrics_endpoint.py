"""GET /metrics: a bearer token when one is set, else loopback clients only (SPEC §12)."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_support import make_app

from digest.services import Services

TOKEN = "s3cret-scrape-token"


def client_for(services, clock, **settings):
    changed = dataclasses.replace(services.settings, **settings)
    return make_app(Services(changed, services.engine, services.sessions), clock).test_client()


def names(response) -> set[str]:
    text = response.get_data(as_text=True)
    return {family.name for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_loopback_clients_get_the_metrics(services, clock, address):
    response = client_for(services, clock).get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert {"digest_database_up", "digest_outbox_depth", "digest_subscribers"} <= names(response)


@pytest.mark.parametrize("address", ["192.0.2.1", "10.0.0.1", "2001:db8::1", ""])
def test_without_a_token_other_clients_get_404(services, clock, address):
    response = client_for(services, clock).get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 404
    assert "digest_" not in response.get_data(as_text=True)


def test_behind_a_declared_proxy_the_forwarded_client_counts(services, clock):
    client = client_for(services, clock, proxy_hops=1)
    forwarded = {"REMOTE_ADDR": "127.0.0.1"}
    outside = client.get("/metrics", environ_base=forwarded,
                         headers={"X-Forwarded-For": "203.0.113.9"})
    assert outside.status_code == 404  # the proxy is local, the visitor is not
    inside = client.get("/metrics", environ_base=forwarded,
                        headers={"X-Forwarded-For": "127.0.0.1"})
    assert inside.status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                                    "Bearer", f"bearer{TOKEN}"])
def test_with_a_token_a_scrape_without_it_gets_401_even_from_loopback(services, clock, header):
    client = client_for(services, clock, metrics_token=TOKEN)
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "digest_" not in response.get_data(as_text=True)


def test_with_the_token_any_client_gets_the_metrics(services, clock):
    client = client_for(services, clock, metrics_token=TOKEN)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                          environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert response.status_code == 200
    assert "digest_digests_composed" in names(response)


def test_the_token_is_read_from_digest_metrics_token(tmp_path):
    from digest.config import load_settings

    env = {"DIGEST_SECRET_KEY": "k", "DIGEST_METRICS_TOKEN": f"  {TOKEN}\n"}
    assert load_settings(env, instance_path=tmp_path).metrics_token == TOKEN
    assert load_settings({"DIGEST_SECRET_KEY": "k"}, instance_path=tmp_path).metrics_token is None
