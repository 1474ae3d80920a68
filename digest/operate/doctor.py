"""`digest doctor`: what makes mail arrive and the service safe, one checked line each.

Each check returns a `Check` (ok, warn or fail, with what to do). They talk to the world the way
the service would: SMTP through the real sender, DNS through dnspython, feeds through the real
fetch client, the sample digest through the real templates and message builder. A SpamAssassin
score is added when `spamassassin` is installed (a Debian package; optional).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path
from urllib.parse import urlsplit

import dns.resolver
import httpx

from digest.config import Settings
from digest.mail.mailer import ConnectionFailure, PermanentFailure, SMTPSender
from digest.operate.dnschecks import Check, check_dkim, check_dmarc, check_spf
from digest.operate.sample import sample_digest

MAX_DIGEST_BYTES = 100 * 1024  # Gmail clips messages larger than about 102 KB
REQUIRED_HEADERS = ("From", "To", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                    "List-Unsubscribe-Post")
FEED_TIMEOUT = 10.0
SPAM_THRESHOLD = 5.0
_SPAM_STATUS = re.compile(r"score=(-?[\d.]+)\s+required=([\d.]+)\s+tests=(\S*)")


def check_smtp(settings: Settings) -> Check:
    """Connect, EHLO, STARTTLS and log in as a send would, then QUIT."""
    if settings.smtp is None:
        return Check("warn", "smtp", f"DIGEST_SMTP_URL is not set: messages are written to "
                     f"{settings.mail_dir} and nobody receives them")
    cfg = settings.smtp
    sender = SMTPSender(cfg, local_hostname=settings.mail_domain)
    try:
        done = sender.probe()
    except (ConnectionFailure, PermanentFailure) as exc:
        return Check("fail", "smtp", f"{exc}")
    finally:
        sender.close()
    return Check("ok", "smtp", f"{cfg.host}:{cfg.port}: {', '.join(done)}")


def check_base_url(settings: Settings) -> Check:
    """Links in emails should be https: a reader's click and one-click unsubscribe go there."""
    if urlsplit(settings.base_url).scheme == "https":
        return Check("ok", "base url", settings.base_url)
    return Check("warn", "base url", f"DIGEST_BASE_URL is {settings.base_url}: links and one-click "
                 "unsubscribe travel unencrypted, and mailbox providers distrust them; serve it "
                 "over https and set DIGEST_BASE_URL to the https origin")


def check_bounce_address(settings: Settings) -> Check:
    """Without a bounce address, bounces after the relay accepted a message go unseen."""
    if settings.bounce_address is None:
        return Check("warn", "bounces", "DIGEST_BOUNCE_ADDRESS is not set: bounces that come back "
                     "after the relay accepted a message are not seen; see 'Operating digest'")
    return Check("ok", "bounces", f"envelope senders are VERP forms of {settings.bounce_address}")


def check_sample(raw: bytes) -> Check:
    """A full sample digest is under 100 KB and carries every SPEC §6 header."""
    message = message_from_bytes(raw, policy=compat32)
    missing = [name for name in REQUIRED_HEADERS if message.get(name) is None]
    size = f"{len(raw) / 1024:.1f} KB"
    if missing:
        return Check("fail", "sample digest", f"headers missing: {', '.join(missing)}")
    if len(raw) > MAX_DIGEST_BYTES:
        return Check("fail", "sample digest", f"{size}, over 100 KB: Gmail clips it and hides the "
                     "footer's unsubscribe link; lower DIGEST_MAX_PAPERS")
    return Check("ok", "sample digest", f"{size} with all §6 headers")


def check_feed(source: str, client: httpx.Client) -> Check:
    """A feed URL answers (GET, short timeout), or a feed path exists."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https"):
        path = Path(parts.path if parts.scheme == "file" else source)
        if path.is_file():
            return Check("ok", "feed", f"{source}: a readable file")
        return Check("fail", "feed", f"{source}: no such file; fix DIGEST_FEEDS")
    try:
        with client.stream("GET", source) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        return Check("fail", "feed", f"{source}: cannot fetch ({type(exc).__name__}: {exc}); "
                     "check the URL in DIGEST_FEEDS and this machine's network")
    if status >= 400:
        return Check("fail", "feed", f"{source}: HTTP {status}; check the URL in DIGEST_FEEDS")
    return Check("ok", "feed", f"{source}: HTTP {status}")


def check_spam(raw: bytes, spamassassin: str) -> Check:
    """The sample digest scored by SpamAssassin, local tests only (-L: no network)."""
    try:
        run = subprocess.run([spamassassin, "-L", "-t"], input=raw, capture_output=True,  # noqa: S603 (a program found on PATH, fixed arguments)
                             timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("warn", "spamassassin", f"could not run {spamassassin}: {exc}")
    head = run.stdout.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    status = " ".join(str(message_from_bytes(head, policy=compat32).get("X-Spam-Status")).split())
    found = _SPAM_STATUS.search(status.replace(",\t", ",").replace(", ", ","))
    if found is None:
        return Check("warn", "spamassassin", "no X-Spam-Status in SpamAssassin's output")
    score, required = float(found.group(1)), float(found.group(2))
    rules = found.group(3).replace(",", ", ") or "none"
    level = "ok" if score < required / 2 else "warn" if score < required else "fail"
    return Check(level, "spamassassin", f"sample digest scores {score} (spam at {required}); "
                 f"rules: {rules}")


def find_spamassassin() -> str | None:
    """The `spamassassin` program on PATH, if installed."""
    return shutil.which("spamassassin")


def run_checks(
    settings: Settings,
    resolver: dns.resolver.Resolver,
    *,
    now: datetime,
    spamassassin: str | None = None,
    echo: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Every check in order; `echo` sees each as soon as it is done."""
    checks: list[Check] = []

    def done(check: Check) -> None:
        checks.append(check)
        if echo is not None:
            echo(check)

    done(check_smtp(settings))
    for dns_check in (check_dkim, check_spf, check_dmarc):
        done(dns_check(settings, resolver))
    done(check_base_url(settings))
    done(check_bounce_address(settings))
    try:
        raw: bytes | None = sample_digest(settings, now=now)
    except Exception as exc:
        raw = None
        done(Check("fail", "sample digest", f"cannot build one: {type(exc).__name__}: {exc}"))
    if raw is not None:
        done(check_sample(raw))
    with httpx.Client(timeout=FEED_TIMEOUT, follow_redirects=True,
                      headers={"User-Agent": "digest-doctor"}) as client:
        for source in settings.feeds:
            done(check_feed(source, client))
    tool = spamassassin or find_spamassassin()
    if tool is not None and raw is not None:
        done(check_spam(raw, tool))
    return checks
