"""Which inbox an address reaches: the key the per-address email cap counts by.

Spellings that land in one inbox must share a cap, or nine spellings get nine times the mail:
the key is lowercase, drops `+tag` sub-addressing at every domain (most providers deliver
`ada+x@` to `ada@`), and at Gmail also drops the dots of the local part and reads
googlemail.com as gmail.com. It only ever counts; mail goes to the address as typed.
"""

from __future__ import annotations

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def mailbox_key(address: str) -> str:
    """The normalised mailbox of an address, e.g. `Ada.Lovelace+x@GoogleMail.com` →
    `adalovelace@gmail.com`."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    base = local.split("+", 1)[0] or local  # "+tag@…" has nothing before the tag: keep it
    if domain in GMAIL_DOMAINS:
        base, domain = base.replace(".", "") or base, "gmail.com"
    return f"{base}@{domain}"
