"""The confirmation email shows the requested keywords as a short quoted list, never as free
text: anyone can type "keywords" into the form, and the email goes out from the operator's domain
(a phishing relay otherwise; issue 8, item 11e)."""

from __future__ import annotations

import re

from web_support import make_app, outbox, parse, subscribe, text_part

PHISH = [f"URGENT account {n} locked sign in at evil example net" for n in range(30)]


def _bodies(services) -> tuple[str, str]:
    message = parse(outbox(services.sessions)[-1].message)
    html_part = message.get_body(preferencelist=("html",))
    return text_part(message), str(html_part.get_content())


def test_keywords_are_shown_quoted_capped_and_counted(services, clock) -> None:
    client = make_app(services, clock).test_client()
    assert subscribe(client, keywords="\n".join(PHISH)).status_code == 200
    text, html = _bodies(services)
    for body in (text, html):
        flat = re.sub(r"\s+", " ", body)
        shown = [n for n, term in enumerate(PHISH) if term in flat]
        assert shown and len(shown) <= 10 and shown == list(range(len(shown)))
        assert f"and {len(PHISH) - len(shown)} more" in flat
        assert f"\u201c{PHISH[0]}\u201d" in flat  # each term between quotes
        assert sum(len(PHISH[n]) for n in shown) <= 200


def test_a_short_profile_is_shown_whole(services, clock) -> None:
    client = make_app(services, clock).test_client()
    subscribe(client, keywords='robot*, "world model"\ndiffusion AND driving')
    text, html = _bodies(services)
    flat = re.sub(r"\s+", " ", text)
    listed = '\u201crobot*\u201d, \u201c"world model"\u201d, \u201cdiffusion AND driving\u201d'
    assert listed in flat
    assert "more" not in flat.split("Confirm here")[0]
    assert "\u201crobot*\u201d" in html


def test_long_terms_are_cut_and_at_most_ten_terms_are_listed() -> None:
    from digest.mail.render import quoted_terms

    assert quoted_terms("a" * 100) == "\u201c" + "a" * 59 + "\u2026\u201d"
    listed = quoted_terms(", ".join(f"t{n}" for n in range(12)))
    assert listed.endswith("\u201ct9\u201d \u2026and 2 more")
