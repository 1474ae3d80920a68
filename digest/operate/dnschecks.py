"""The DNS half of `digest doctor`: DKIM public key, SPF and DMARC records of the From domain.

Lookups go through dnspython, to the system's resolver or to the one `--dns HOST[:PORT]` names.
A DKIM key is compared by its numbers (RSA modulus and exponent), so any valid encoding of the
same key in DNS matches; on a mismatch the record to publish is printed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import dkim.crypto
import dns.exception
import dns.resolver

from digest.config import Settings

_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL


@dataclass(frozen=True)
class Check:
    """One line of doctor's output: `level` is ok, warn or fail."""

    level: str
    name: str
    message: str

    def line(self) -> str:
        """`ok   smtp: …`"""
        return f"{self.level:<4} {self.name}: {self.message}"


def make_resolver(server: str | None, timeout: float = 5.0) -> dns.resolver.Resolver:
    """The system's resolver, or the one at HOST[:PORT] (default port 53)."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host or server]
        resolver.port = int(port) if port else 53
    resolver.lifetime = timeout
    return resolver


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str] | None:
    """The TXT strings at `name` (each record's strings joined); [] when none, None on error."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException:
        return None
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def check_spf(settings: Settings, resolver: dns.resolver.Resolver) -> Check:
    """One `v=spf1` TXT record on the envelope sender's domain (the bounce address's, else From's).

    SPF judges the SMTP MAIL FROM, so with DIGEST_BOUNCE_ADDRESS it is that domain's record
    that counts; for DMARC it must share the From domain's organizational domain.
    """
    domain = (settings.bounce_address or settings.mail_from_address.addr_spec).rpartition("@")[2]
    records = txt_records(resolver, domain)
    if records is None:
        return Check("fail", "spf", f"cannot query DNS for {domain}: is the resolver reachable?")
    spf = [r for r in records if r.lower().startswith("v=spf1")]
    if not spf:
        return Check("fail", "spf", f"no SPF record on {domain}: publish a TXT record like "
                     f"'v=spf1 mx -all' naming the servers that send for it")
    if len(spf) > 1:
        return Check("fail", "spf", f"{domain} has {len(spf)} SPF records; receivers treat that "
                     "as an error: merge them into one")
    return Check("ok", "spf", f"{domain}: {spf[0]}")


def check_dmarc(settings: Settings, resolver: dns.resolver.Resolver) -> Check:
    """A `v=DMARC1` TXT record at `_dmarc.<From domain>`."""
    name = f"_dmarc.{settings.mail_domain}"
    records = txt_records(resolver, name)
    if records is None:
        return Check("fail", "dmarc", f"cannot query DNS for {name}: is the resolver reachable?")
    dmarc = [r for r in records if r.replace(" ", "").lower().startswith("v=dmarc1")]
    if not dmarc:
        return Check("fail", "dmarc", f"no DMARC record at {name}: Gmail and Yahoo require one of "
                     "bulk senders; publish e.g. 'v=DMARC1; p=none; rua=mailto:dmarc@"
                     f"{settings.mail_domain}'")
    return Check("ok", "dmarc", f"{name}: {dmarc[0]}")


def check_dkim(settings: Settings, resolver: dns.resolver.Resolver) -> Check:
    """The signing key readable, and its public half the one published for the selector."""
    if not (settings.dkim_selector and settings.dkim_key_file):
        return Check("warn", "dkim", "messages are not signed: set DIGEST_DKIM_SELECTOR and "
                     "DIGEST_DKIM_KEY_FILE (Gmail and Yahoo expect bulk mail to be signed)")
    name = f"{settings.dkim_selector}._domainkey.{settings.mail_domain}"
    try:
        ours = _private_numbers(settings.dkim_key_file)
    except (OSError, dkim.crypto.UnparsableKeyError, ValueError) as exc:
        return Check("fail", "dkim", f"cannot read the RSA key in DIGEST_DKIM_KEY_FILE ({exc})")
    publish = f"publish TXT 'v=DKIM1; k=rsa; p={_public_key_b64(*ours)}' at {name}"
    records = txt_records(resolver, name)
    if records is None:
        return Check("fail", "dkim", f"cannot query DNS for {name}: is the resolver reachable?")
    keys = [_tags(r).get("p", "") for r in records if "p" in _tags(r)]
    if not keys:
        return Check("fail", "dkim", f"no DKIM key in DNS at {name}: {publish}")
    for key in keys:
        try:
            theirs = dkim.crypto.parse_public_key(base64.b64decode(key))
        except (ValueError, dkim.crypto.UnparsableKeyError):
            continue
        if (theirs["modulus"], theirs["publicExponent"]) == ours:
            return Check("ok", "dkim", f"the key in DIGEST_DKIM_KEY_FILE is the one at {name}")
    return Check("fail", "dkim", f"the key at {name} is not the one in DIGEST_DKIM_KEY_FILE, so "
                 f"signatures will not verify: {publish}")


def _private_numbers(path: Path | None) -> tuple[int, int]:
    assert path is not None
    key = dkim.crypto.parse_pem_private_key(path.read_bytes())
    return key["modulus"], key["publicExponent"]


def _tags(record: str) -> dict[str, str]:
    """A DKIM record's tag=value pairs, whitespace removed (RFC 6376 3.2)."""
    pairs = (part.split("=", 1) for part in record.split(";") if "=" in part)
    return {k.strip().lower(): "".join(v.split()) for k, v in pairs}


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _public_key_b64(modulus: int, exponent: int) -> str:
    """The base64 SubjectPublicKeyInfo DER of an RSA key: the `p=` of its DKIM record."""
    rsa_key = _der(0x30, _der_int(modulus) + _der_int(exponent))
    return base64.b64encode(_der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_key))).decode()
