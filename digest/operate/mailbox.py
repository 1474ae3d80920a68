"""Reading a mailbox of bounces over IMAP (imaplib), and deleting the messages processed.

`imaps://user:pass@host[:port]/MAILBOX` (TLS verified against the system's CAs) or `imap://…`
(plain, for a server on the same machine or tests). The mailbox defaults to INBOX.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class MailboxError(Exception):
    """The mailbox cannot be opened or read; the message says why in one sentence."""


@dataclass(frozen=True)
class ImapUrl:
    """The parts of an `imap(s)://` URL."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    mailbox: str


def parse_imap_url(url: str) -> ImapUrl:
    """Split an IMAP URL; raise MailboxError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise MailboxError(f"--imap must look like imaps://user:pass@host/INBOX, not {url!r}")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as exc:
        raise MailboxError(f"--imap has a bad port: {url!r}") from exc
    return ImapUrl(
        host=parts.hostname, port=port, tls=parts.scheme == "imaps",
        username=unquote(parts.username), password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
    )


class Mailbox:
    """An open, selected IMAP mailbox."""

    def __init__(self, conn: imaplib.IMAP4) -> None:
        self.conn = conn

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(uid, raw message) for every message in the mailbox, one fetch at a time."""
        status, data = self.conn.uid("SEARCH", "ALL")
        if status != "OK":
            raise MailboxError(f"the IMAP server refused to list the mailbox: {data!r}")
        for uid in (data[0] or b"").decode("ascii").split():
            status, parts = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
            if status == "OK" and isinstance(raw, bytes):
                yield uid, raw

    def delete(self, uid: str) -> None:
        """Flag one message deleted; `close()` expunges."""
        self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")


@contextmanager
def open_mailbox(url: str, timeout: float = 30.0) -> Iterator[Mailbox]:
    """Log in and select the URL's mailbox; expunge and log out at the end."""
    where = parse_imap_url(url)
    try:
        if where.tls:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                where.host, where.port, ssl_context=ssl.create_default_context(), timeout=timeout)
        else:
            conn = imaplib.IMAP4(where.host, where.port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        where_to = f"{where.host}:{where.port}"
        raise MailboxError(f"cannot reach the IMAP server {where_to}: {exc}") from exc
    try:
        try:
            conn.login(where.username, where.password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"the IMAP server refused the login of {where.username!r}") from exc
        status, _ = conn.select(where.mailbox)
        if status != "OK":
            raise MailboxError(f"the IMAP server has no mailbox {where.mailbox!r}")
        yield Mailbox(conn)
        conn.expunge()
        conn.close()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"the IMAP conversation with {where.host} failed: {exc}") from exc
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
