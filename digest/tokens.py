"""Signed, purpose-bound tokens for the links in emails, and the absolute URLs built from them.

A token names one subscriber and one purpose (one itsdangerous salt per purpose), and carries the
subscriber's `token_nonce`: rotating the nonce (address changed, data deleted) voids every older
token at once. Library errors are turned into `TokenExpired` / `TokenInvalid`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PURPOSES = ("confirm", "manage", "unsubscribe", "digest", "rejoin", "feed", "rate")
# Tokens without a timestamp: the same subscriber always gets the same one. A feed's address
# then reads the same in every email and on the manage page, so a reader subscribes to it once.
UNTIMED = ("feed",)
CONFIRM_MAX_AGE = timedelta(days=7)
# A rejoin token carries a whole subscription request; past this length (a URL longer than some
# proxies accept) it carries none and confirming keeps the stored preferences.
MAX_REJOIN_TOKEN = 4096
# subscriber . nonce . paper . digest . rating (+1/-1); the signature follows.
_RATE_TOKEN = re.compile(r"\d{1,18}\.[A-Za-z0-9_-]{1,64}\.\d{1,18}\.\d{1,18}\.-?1")


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
    extra: tuple[int, ...] = ()  # "rate": (digest id, rating +1/-1) after the paper id


@dataclass(frozen=True)
class RejoinData:
    """What a rejoin token says: who, which unsubscribe it undoes, and what was requested."""

    subscriber_id: int
    nonce: str
    unsubscribed_at: int  # `stamp()` of the subscriber's unsubscribed_at when it was made
    # keywords, frequency, weekday, send_time, timezone; None: keep the stored preferences.
    request: tuple[str, str, int, str, str] | None


def stamp(moment: datetime | None) -> int:
    """A datetime as whole microseconds since the epoch (0 for None), exact for comparisons."""
    if moment is None:
        return 0
    return (moment - EPOCH) // timedelta(microseconds=1)


class Tokens:
    """Makes and checks tokens with the instance's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        # One serializer per purpose: a digest makes ~50 rating tokens, 100,000 digests a run.
        self._serializers: dict[str, URLSafeTimedSerializer | URLSafeSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer | URLSafeSerializer:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        serializer = self._serializers.get(purpose)
        if serializer is None:
            kind = URLSafeSerializer if purpose in UNTIMED else URLSafeTimedSerializer
            serializer = kind(self._secret_key, salt=f"digest.{purpose}")
            self._serializers[purpose] = serializer
        return serializer

    def _rate_mac(self) -> Any:
        """The keyed HMAC of rating tokens, made once: copying it costs a microsecond."""
        mac = getattr(self, "_rate_hmac", None)
        if mac is None:
            key = hashlib.sha256(f"digest.rate\0{self._secret_key}".encode()).digest()
            mac = self._rate_hmac = hmac.new(key, digestmod=hashlib.sha256)
        return mac

    def _rate_signature(self, body: str) -> str:
        mac = self._rate_mac().copy()
        mac.update(body.encode())
        return base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")

    def _make_rate(self, payload: list[Any]) -> str:
        # Rating links are many (two per paper per digest): a compact HMAC token rather than
        # itsdangerous's, which derives its key on every call (~50 µs against ~2 µs here).
        body = ".".join(str(value) for value in payload)
        return f"{body}.{self._rate_signature(body)}"

    def _load_rate(self, token: str) -> list[Any]:
        body, _, signature = token.rpartition(".")
        if not _RATE_TOKEN.fullmatch(body) or not hmac.compare_digest(
            signature, self._rate_signature(body)
        ):
            raise TokenInvalid("this rate link is not valid")
        parts = body.split(".")
        return [int(parts[0]), parts[1], *map(int, parts[2:])]

    def make(
        self,
        purpose: str,
        subscriber: TokenHolder,
        object_id: int | None = None,
        extra: tuple[int, ...] = (),
    ) -> str:
        """A token for `purpose`, bound to this subscriber (and, for digests, one digest;
        for ratings, one paper, then the digest it was shown in and the rating)."""
        payload: list[Any] = [subscriber.id, subscriber.token_nonce]
        if object_id is not None:
            payload.append(object_id)
            payload.extend(extra)
        if purpose == "rate":
            return self._make_rate(payload)
        return str(self._serializer(purpose).dumps(payload))

    def load(self, purpose: str, token: str, max_age: timedelta | None = None) -> TokenData:
        """Check a token; raise TokenExpired or TokenInvalid. The caller checks the nonce."""
        serializer = self._serializer(purpose)
        seconds = int(max_age.total_seconds()) if max_age is not None else None
        try:
            if purpose == "rate":
                payload = self._load_rate(token)
            elif isinstance(serializer, URLSafeTimedSerializer):
                payload = serializer.loads(token, max_age=seconds)
            else:
                payload = serializer.loads(token)
        except SignatureExpired as exc:
            raise TokenExpired(f"this {purpose} link has expired") from exc
        except BadSignature as exc:
            raise TokenInvalid(f"this {purpose} link is not valid") from exc
        # Ids go straight into queries: a huge int (OverflowError), a list or a bool would
        # crash them, so only ints that fit a 64-bit column are ids.
        if (
            not isinstance(payload, list)
            or len(payload) not in ((5,) if purpose == "rate" else (2, 3))
            or not _is_id(payload[0])
            or not isinstance(payload[1], str)
            or not all(_is_id(value) for value in payload[2:4])
            or (purpose == "rate" and payload[4] not in (1, -1))
        ):
            raise TokenInvalid(f"this {purpose} link is not valid")
        object_id = payload[2] if len(payload) >= 3 else None
        return TokenData(payload[0], payload[1], object_id, tuple(payload[3:]))

    def make_rejoin(
        self, subscriber: TokenHolder, unsubscribed_at: int, request: tuple[str, str, int, str, str]
    ) -> tuple[str, bool]:
        """A token to re-subscribe an address that unsubscribed, and whether it carries the
        request (it does not when that would make it longer than MAX_REJOIN_TOKEN)."""
        serializer = self._serializer("rejoin")
        token = str(serializer.dumps([subscriber.id, subscriber.token_nonce, unsubscribed_at,
                                      list(request)]))
        if len(token) <= MAX_REJOIN_TOKEN:
            return token, True
        bare = serializer.dumps([subscriber.id, subscriber.token_nonce, unsubscribed_at])
        return str(bare), False

    def load_rejoin(self, token: str, max_age: timedelta) -> RejoinData:
        """Check a rejoin token; raise TokenExpired or TokenInvalid. The caller checks the rest."""
        if len(token) > MAX_REJOIN_TOKEN:
            raise TokenInvalid("this confirm link is not valid")
        try:
            payload = self._serializer("rejoin").loads(token, max_age=int(max_age.total_seconds()))
        except SignatureExpired as exc:
            raise TokenExpired("this confirm link has expired") from exc
        except BadSignature as exc:
            raise TokenInvalid("this confirm link is not valid") from exc
        if (
            not isinstance(payload, list)
            or len(payload) not in (3, 4)
            or not _is_id(payload[0])
            or not isinstance(payload[1], str)
            or not isinstance(payload[2], int)
            or isinstance(payload[2], bool)
        ):
            raise TokenInvalid("this confirm link is not valid")
        request = _request(payload[3]) if len(payload) == 4 else None
        return RejoinData(payload[0], payload[1], payload[2], request)

    def check_current(self, data: TokenData | RejoinData, subscriber: TokenHolder | None) -> None:
        """Raise TokenInvalid unless the subscriber still exists with the token's nonce."""
        if subscriber is None or subscriber.token_nonce != data.nonce:
            raise TokenInvalid("this link is no longer valid")


def _is_id(value: Any) -> bool:
    """A row id as tokens carry them: a positive int that fits a 64-bit column (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _request(value: Any) -> tuple[str, str, int, str, str]:
    """The request a rejoin token carries, shape-checked (the values were validated when made)."""
    if (
        not isinstance(value, list)
        or len(value) != 5
        or not all(isinstance(value[i], str) for i in (0, 1, 3, 4))
        or not isinstance(value[2], int)
        or isinstance(value[2], bool)
    ):
        raise TokenInvalid("this confirm link is not valid")
    return (value[0], value[1], value[2], value[3], value[4])


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


def rate_url(
    base_url: str,
    tokens: Tokens,
    subscriber: TokenHolder,
    paper_id: int,
    digest_id: int,
    value: int,
) -> str:
    """A *More like this* (1) or *Less like this* (-1) link for one paper of a digest."""
    return f"{base_url}/rate/{tokens.make('rate', subscriber, paper_id, (digest_id, value))}"
