"""Settings: every DIGEST_* environment variable, read once at start-up and validated there."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HF_DAILY_PAPERS_URL = "https://huggingface.co/api/daily_papers"
ARXIV_API_URL = "http://export.arxiv.org/api/query"
DEFAULT_DATABASE_URL = "sqlite:///instance/digest.db"


# A dot-atom address without '+' in the local part (VERP puts `+token` there).
_ATOM = r"[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+"
_BARE_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class ConfigError(Exception):
    """A setting has a value digest cannot use; the message names the variable."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand mail to an SMTP server, parsed from DIGEST_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    rate_per_second: float | None = None
    # PEM certificates to trust instead of the system's CAs (?cafile=…): for a relay with a
    # private CA. Verification itself is never turned off; the hostname is always checked.
    cafile: Path | None = None


@dataclass(frozen=True)
class Settings:
    """The validated configuration, passed explicitly to whatever needs it."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Paper Digest <digest@localhost>"
    smtp: SmtpConfig | None = None
    feeds: tuple[str, ...] = (HF_DAILY_PAPERS_URL,)
    send_time: time = time(7, 0)
    timezone: str = "UTC"
    max_papers: int = 25
    dkim_selector: str | None = None
    dkim_key_file: Path | None = None
    subscribe_rate_limit: str = "10 per hour"
    fetch_cron: str = "15 1,5,13,19 * * *"
    proxy_hops: int = 0
    # VERP: envelope senders `local+token@domain` of this address name each message (§12).
    bounce_address: str | None = None
    # /metrics: a bearer token, or None for loopback clients only (SPEC §12).
    metrics_token: str | None = None
    # Flask-Limiter storage URI shared by every web process, or None for process memory.
    ratelimit_storage_url: str | None = None
    relevance: bool = True  # DIGEST_RELEVANCE: §10 on (ratings, liked papers, the model)
    arxiv_api_url: str = ARXIV_API_URL  # DIGEST_ARXIV_API_URL: where liked papers are looked up
    instance_path: Path = field(default_factory=lambda: Path("instance"))

    @property
    def mail_dir(self) -> Path:
        """Folder of the `.eml` file sink used when no SMTP server is configured."""
        return self.instance_path / "mail"

    @property
    def mail_from_address(self) -> Address:
        """The From header as an Address (display name and addr-spec)."""
        name, addr = parseaddr(self.mail_from)
        username, _, domain = addr.partition("@")
        return Address(display_name=name, username=username, domain=domain)

    @property
    def mail_domain(self) -> str:
        """The From address's domain: DKIM signing domain and Message-ID right-hand side."""
        return self.mail_from_address.domain


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: Path | str | None = None
) -> Settings:
    """Build Settings from DIGEST_* variables; raise ConfigError naming the first bad one."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path or env.get("DIGEST_INSTANCE_PATH") or "instance")

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value is not None and value.strip() else None

    database_url = _database_url(get("DIGEST_DATABASE_URL") or DEFAULT_DATABASE_URL)
    base_url = _base_url(get("DIGEST_BASE_URL") or Settings.base_url)
    mail_from = _mail_from(get("DIGEST_MAIL_FROM") or Settings.mail_from)
    smtp_url, feeds_value = get("DIGEST_SMTP_URL"), get("DIGEST_FEEDS")
    smtp = _smtp(smtp_url) if smtp_url else None
    feeds = _feeds(feeds_value) if feeds_value else Settings.feeds
    send_time = _send_time(get("DIGEST_SEND_TIME") or "07:00")
    timezone = _timezone(get("DIGEST_TIMEZONE") or "UTC")
    max_papers = _positive_int("DIGEST_MAX_PAPERS", get("DIGEST_MAX_PAPERS") or "25")
    dkim_selector = get("DIGEST_DKIM_SELECTOR")
    dkim_key_file = _dkim_key(dkim_selector, get("DIGEST_DKIM_KEY_FILE"))
    rate_limit = _rate_limit(get("DIGEST_SUBSCRIBE_RATE_LIMIT") or Settings.subscribe_rate_limit)
    fetch_cron = _cron("DIGEST_FETCH_CRON", get("DIGEST_FETCH_CRON") or Settings.fetch_cron)
    proxy_hops = _count("DIGEST_PROXY_HOPS", get("DIGEST_PROXY_HOPS") or "0")
    bounce_value = get("DIGEST_BOUNCE_ADDRESS")
    bounce_address = _bounce_address(bounce_value) if bounce_value else None
    ratelimit_storage = get("DIGEST_RATELIMIT_STORAGE_URL")
    if ratelimit_storage:
        _ratelimit_storage(ratelimit_storage)
    relevance = _on_off("DIGEST_RELEVANCE", get("DIGEST_RELEVANCE") or "on")
    arxiv_api_url = _http_url("DIGEST_ARXIV_API_URL", get("DIGEST_ARXIV_API_URL") or ARXIV_API_URL)
    secret_key = get("DIGEST_SECRET_KEY") or _stored_secret_key(instance)
    return Settings(
        database_url=database_url,
        secret_key=secret_key,
        base_url=base_url,
        mail_from=mail_from,
        smtp=smtp,
        feeds=feeds,
        send_time=send_time,
        timezone=timezone,
        max_papers=max_papers,
        dkim_selector=dkim_selector,
        dkim_key_file=dkim_key_file,
        subscribe_rate_limit=rate_limit,
        fetch_cron=fetch_cron,
        proxy_hops=proxy_hops,
        bounce_address=bounce_address,
        metrics_token=get("DIGEST_METRICS_TOKEN"),
        ratelimit_storage_url=ratelimit_storage,
        relevance=relevance,
        arxiv_api_url=arxiv_api_url,
        instance_path=instance,
    )


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except ArgumentError as exc:
        raise ConfigError(f"DIGEST_DATABASE_URL is not a database URL: {value!r}") from exc
    return value


def _on_off(name: str, value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ConfigError(f"{name} must be on or off, not {value!r}")
    return value.lower() == "on"


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"DIGEST_BASE_URL must be an http(s) origin like https://digest.example.org, "
            f"not {value!r}"
        )
    return value.rstrip("/")


def _mail_from(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ConfigError("DIGEST_MAIL_FROM must be one line")
    _, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ConfigError(
            f"DIGEST_MAIL_FROM must be an address like 'Paper Digest <digest@example.org>', "
            f"not {value!r}"
        )
    return value


def _bounce_address(value: str) -> str:
    """A bare address whose local part has no '+': VERP adds `+token` to it."""
    if not _BARE_ADDRESS.fullmatch(value):
        raise ConfigError(
            "DIGEST_BOUNCE_ADDRESS must be a bare address like bounces@example.org, without "
            f"a '+' in its local part, not {value!r}"
        )
    return value


def _smtp(value: str) -> SmtpConfig:
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "DIGEST_SMTP_URL must look like smtp://[user:pass@]host[:port][?starttls=true] "
            f"or smtps://…, not {value!r}"
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ConfigError(f"DIGEST_SMTP_URL has a bad port: {value!r}") from exc
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "rate", "cafile"}
    if unknown:
        raise ConfigError(f"DIGEST_SMTP_URL has unknown options: {', '.join(sorted(unknown))}")
    starttls = query.get("starttls", "false").lower() in ("1", "true", "yes", "on")
    if starttls and parts.scheme == "smtps":
        raise ConfigError("DIGEST_SMTP_URL asks for smtps:// and starttls=true: choose one")
    try:
        timeout = float(query.get("timeout", "30"))
        rate = float(query["rate"]) if "rate" in query else None
    except ValueError as exc:
        raise ConfigError("DIGEST_SMTP_URL timeout and rate must be numbers") from exc
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
        rate_per_second=rate,
        cafile=_smtp_cafile(query["cafile"]) if "cafile" in query else None,
    )


def _smtp_cafile(value: str) -> Path:
    """The ?cafile= of DIGEST_SMTP_URL: a file of PEM certificates that ssl can load."""
    import ssl

    path = Path(value)
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"DIGEST_SMTP_URL cafile must be a readable file of PEM certificates, not {value!r}"
        ) from exc
    return path


def _feeds(value: str) -> tuple[str, ...]:
    feeds = tuple(part.strip() for part in value.split(",") if part.strip())
    for feed in feeds:
        scheme = urlsplit(feed).scheme
        if scheme not in ("http", "https", "file", ""):
            raise ConfigError(f"DIGEST_FEEDS holds {feed!r}, which is neither a URL nor a path")
    return feeds


def _send_time(value: str) -> time:
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ConfigError(f"DIGEST_SEND_TIME must be HH:MM, not {value!r}")
    if int(hours) > 23 or int(minutes) > 59:
        raise ConfigError(f"DIGEST_SEND_TIME must be a time of day, not {value!r}")
    return time(int(hours), int(minutes))


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"DIGEST_TIMEZONE is not an IANA timezone name: {value!r}") from exc
    return value


def _positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


def _count(name: str, value: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def _dkim_key(selector: str | None, key_file: str | None) -> Path | None:
    if bool(selector) != bool(key_file):
        raise ConfigError("DIGEST_DKIM_SELECTOR and DIGEST_DKIM_KEY_FILE must be set together")
    if key_file is None:
        return None
    path = Path(key_file)
    if not path.is_file():
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE does not name a readable file: {key_file!r}")
    if b"PRIVATE KEY" not in path.read_bytes():
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE is not a PEM private key: {key_file!r}")
    return path


def _rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(
            f"DIGEST_SUBSCRIBE_RATE_LIMIT must be like '10 per hour', not {value!r}"
        ) from exc
    return value


def _ratelimit_storage(value: str) -> None:
    """A storage URI Flask-Limiter knows, whose client library is installed (nothing connects)."""
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    scheme = urlsplit(value).scheme
    if scheme.startswith("async+") or not scheme:
        raise ConfigError(
            f"DIGEST_RATELIMIT_STORAGE_URL must be a URL like redis://127.0.0.1:6379, not {value!r}"
        )
    try:
        storage_from_string(value)
    except ConfigurationError as exc:
        raise ConfigError(
            f"DIGEST_RATELIMIT_STORAGE_URL cannot be used ({exc}); for redis:// install "
            "digest with the redis extra: pip install 'digest[redis]'"
        ) from exc


def _cron(name: str, value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be a crontab line like '15 1 * * *', not {value!r}"
        ) from exc
    return value


def _stored_secret_key(instance: Path) -> str:
    """Return the key kept in instance/secret_key, creating it (mode 600) on first start."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process started at the same moment and won
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
