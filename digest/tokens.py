"""Signed, purpose-bound tokens for the links in emails, and the absolute URLs built from them.

A token names one subscriber and one purpose (one itsdangerous salt per purpose), and carries the
subscriber's `token_nonce`: rotating the nonce (address changed, data deleted) voids every older
token at once. Library errors are turned into `TokenExpired` / `TokenInvalid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

PURPOSES = ("confirm", "manage", "unsubscribe", "digest", "feed")
# Tokens without a timestamp: the same subscriber always gets the same one. A feed's address
# then reads the same in every email and on the manage page, so a reader subscribes to it once.
UNTIMED = ("feed",)
CONFIRM_MAX_AGE = timedelta(days=7)


class TokenError(Exception):
    """A token that cannot be used."""


class TokenExpired(TokenError):
    """The token was genuine but is older than its purpose allows."""


class TokenInvalid(TokenError):
    """The token is forged, damaged, for another purpose, or no longer current."""


class TokenHolder(Protocol):
    id: int
    token_nonce: str


@dataclass(frozen=True)
class TokenData:
    """What a valid token says: whose it is, the nonce it was made with, and an optional object."""

    subscriber_id: int
    nonce: str
    object_id: int | None = None


class Tokens:
    """Makes and checks tokens with the instance's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer | URLSafeSerializer:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        if purpose in UNTIMED:
            return URLSafeSerializer(self._secret_key, salt=f"digest.{purpose}")
        return URLSafeTimedSerializer(self._secret_key, salt=f"digest.{purpose}")

    def make(self, purpose: str, subscriber: TokenHolder, object_id: int | None = None) -> str:
        """A token for `purpose`, bound to this subscriber (and, for digests, one digest)."""
        payload: list[Any] = [subscriber.id, subscriber.token_nonce]
        if object_id is not None:
            payload.append(object_id)
        return str(self._serializer(purpose).dumps(payload))

    def load(self, purpose: str, token: str, max_age: timedelta | None = None) -> TokenData:
        """Check a token; raise TokenExpired or TokenInvalid. The caller checks the nonce."""
        serializer = self._serializer(purpose)
        seconds = int(max_age.total_seconds()) if max_age is not None else None
        try:
            if isinstance(serializer, URLSafeTimedSerializer):
                payload = serializer.loads(token, max_age=seconds)
            else:
                payload = serializer.loads(token)
        except SignatureExpired as exc:
            raise TokenExpired(f"this {purpose} link has expired") from exc
        except BadSignature as exc:
            raise TokenInvalid(f"this {purpose} link is not valid") from exc
        if (
            not isinstance(payload, list)
            or len(payload) not in (2, 3)
            or not isinstance(payload[0], int)
            or not isinstance(payload[1], str)
        ):
            raise TokenInvalid(f"this {purpose} link is not valid")
        object_id = payload[2] if len(payload) == 3 else None
        return TokenData(subscriber_id=payload[0], nonce=payload[1], object_id=object_id)

    def check_current(self, data: TokenData, subscriber: TokenHolder | None) -> None:
        """Raise TokenInvalid unless the subscriber still exists with the token's nonce."""
        if subscriber is None or subscriber.token_nonce != data.nonce:
            raise TokenInvalid("this link is no longer valid")


@dataclass(frozen=True)
class SubscriberLinks:
    """The absolute links every email to a subscriber carries."""

    manage: str
    unsubscribe: str


def subscriber_links(base_url: str, tokens: Tokens, subscriber: TokenHolder) -> SubscriberLinks:
    """Manage and unsubscribe URLs, built from DIGEST_BASE_URL rather than a request."""
    return SubscriberLinks(
        manage=f"{base_url}/manage/{tokens.make('manage', subscriber)}",
        unsubscribe=f"{base_url}/unsubscribe/{tokens.make('unsubscribe', subscriber)}",
    )


def confirm_url(base_url: str, tokens: Tokens, subscriber: TokenHolder) -> str:
    """The double opt-in link; it expires after CONFIRM_MAX_AGE."""
    return f"{base_url}/confirm/{tokens.make('confirm', subscriber)}"


def digest_url(base_url: str, tokens: Tokens, subscriber: TokenHolder, digest_id: int) -> str:
    """The 'view in browser' link of one digest."""
    return f"{base_url}/digest/{tokens.make('digest', subscriber, digest_id)}"


def feed_url(base_url: str, tokens: Tokens, subscriber: TokenHolder) -> str:
    """The subscriber's personal Atom feed (SPEC §11); it lives as long as the subscription."""
    return f"{base_url}/feed/{tokens.make('feed', subscriber)}"
