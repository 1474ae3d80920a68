"""Settings: defaults that work on a fresh machine, and one clear error per bad variable."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import time

import pytest

from digest.config import HF_DAILY_PAPERS_URL, ConfigError, load_settings


def test_defaults_work_with_an_empty_environment(tmp_path) -> None:
    settings = load_settings({}, instance_path=tmp_path)
    assert settings.database_url == "sqlite:///instance/digest.db"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.mail_from == "Paper Digest <digest@localhost>"
    assert settings.smtp is None
    assert settings.feeds == (HF_DAILY_PAPERS_URL,)
    assert settings.send_time == time(7, 0)
    assert settings.timezone == "UTC"
    assert settings.max_papers == 25
    assert settings.subscribe_rate_limit == "10 per hour"
    assert settings.mail_dir == tmp_path / "mail"


def test_secret_key_is_generated_once_and_kept_private(tmp_path) -> None:
    first = load_settings({}, instance_path=tmp_path).secret_key
    second = load_settings({}, instance_path=tmp_path).secret_key
    assert first == second and len(first) >= 40
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_smtp_url_is_parsed(tmp_path) -> None:
    env = {"DIGEST_SMTP_URL": "smtp://user%40x:p%3Ass@mail.example.org:587?starttls=true"}
    smtp = load_settings(env, instance_path=tmp_path).smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.starttls, smtp.implicit_tls) == (
        "mail.example.org", 587, True, False)
    assert (smtp.username, smtp.password) == ("user@x", "p:ss")
    smtps = load_settings({"DIGEST_SMTP_URL": "smtps://relay"}, instance_path=tmp_path).smtp
    assert smtps is not None and smtps.port == 465 and smtps.implicit_tls


def test_feeds_are_split_on_commas(tmp_path) -> None:
    env = {"DIGEST_FEEDS": "https://a.example/rss, /srv/feed.xml ,"}
    assert load_settings(env, instance_path=tmp_path).feeds == (
        "https://a.example/rss", "/srv/feed.xml")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DIGEST_DATABASE_URL", "not a url"),
        ("DIGEST_BASE_URL", "digest.example.org"),
        ("DIGEST_MAIL_FROM", "nobody"),
        ("DIGEST_MAIL_FROM", "a@b.org\r\nBcc: x@y.org"),
        ("DIGEST_SMTP_URL", "http://mail.example.org"),
        ("DIGEST_SMTP_URL", "smtp://mail.example.org:port"),
        ("DIGEST_FEEDS", "ftp://example.org/feed"),
        ("DIGEST_SEND_TIME", "7am"),
        ("DIGEST_SEND_TIME", "24:00"),
        ("DIGEST_TIMEZONE", "Mars/Olympus"),
        ("DIGEST_MAX_PAPERS", "0"),
        ("DIGEST_MAX_PAPERS", "many"),
        ("DIGEST_DKIM_SELECTOR", "s1"),
        ("DIGEST_SUBSCRIBE_RATE_LIMIT", "lots"),
    ],
)
def test_bad_value_names_the_variable(tmp_path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, instance_path=tmp_path)


def test_dkim_key_must_be_a_pem_private_key(tmp_path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("hello")
    env = {"DIGEST_DKIM_SELECTOR": "s1", "DIGEST_DKIM_KEY_FILE": str(key)}
    with pytest.raises(ConfigError, match="DIGEST_DKIM_KEY_FILE"):
        load_settings(env, instance_path=tmp_path)


def test_proxy_hops_default_to_none_and_must_be_a_count(tmp_path) -> None:
    assert load_settings({}, instance_path=tmp_path).proxy_hops == 0
    assert load_settings({"DIGEST_PROXY_HOPS": "1"}, instance_path=tmp_path).proxy_hops == 1
    with pytest.raises(ConfigError, match="DIGEST_PROXY_HOPS"):
        load_settings({"DIGEST_PROXY_HOPS": "-1"}, instance_path=tmp_path)


def test_smtp_cafile_names_the_certificates_to_trust(tmp_path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert = tmp_path / "relay-ca.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=relay", "-keyout", str(tmp_path / "key.pem"), "-out", str(cert)],
                   check=True, capture_output=True)
    env = {"DIGEST_SMTP_URL": f"smtp://relay:587?starttls=true&cafile={cert}"}
    smtp = load_settings(env, instance_path=tmp_path).smtp
    assert smtp is not None and smtp.cafile == cert
    default = load_settings({"DIGEST_SMTP_URL": "smtp://relay"}, instance_path=tmp_path).smtp
    assert default is not None and default.cafile is None


@pytest.mark.parametrize("url", [
    "smtp://relay?cafile=/nonexistent/ca.pem",
    "smtp://relay?cafile={not_pem}",
    "smtps://relay?starttls=true",
])
def test_bad_smtp_tls_options_name_the_variable(tmp_path, url: str) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    env = {"DIGEST_SMTP_URL": url.format(not_pem=not_pem)}
    with pytest.raises(ConfigError, match="DIGEST_SMTP_URL"):
        load_settings(env, instance_path=tmp_path)


def test_bounce_address_is_a_bare_address_without_a_plus(tmp_path) -> None:
    base = {"DIGEST_SECRET_KEY": "k"}
    assert load_settings(base, instance_path=tmp_path).bounce_address is None
    ok = load_settings({**base, "DIGEST_BOUNCE_ADDRESS": "bounces@example.org"},
                       instance_path=tmp_path)
    assert ok.bounce_address == "bounces@example.org"
    for bad in ("bounces+x@example.org", "Bounces <b@example.org>", "nobody", "b@"):
        with pytest.raises(ConfigError, match="DIGEST_BOUNCE_ADDRESS"):
            load_settings({**base, "DIGEST_BOUNCE_ADDRESS": bad}, instance_path=tmp_path)
