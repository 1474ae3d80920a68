"""Benchmark: SMTP delivery to a local aiosmtpd server, one reused connection vs one per message.

The server (`SmtpSink`) runs in its own process, so its CPU does not share the client's GIL; it
accepts everything and only counts. Messages are real digests (rendered and serialized by digest's
own code), sent by digest's SMTPSender.

    .venv/bin/python -m benchmarks.bench_smtp [--messages 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import TracebackType

from benchmarks import datagen
from benchmarks.datagen import Row
from digest.config import SmtpConfig
from digest.mail.mailer import SMTPSender, build_message


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 in a separate process that accepts and counts messages."""

    def __init__(self) -> None:
        self.port = 0
        ctx = multiprocessing.get_context("spawn")
        self._count = ctx.Value("q", 0)
        self._ready = ctx.Event()
        self._stop = ctx.Event()
        self._ctx = ctx
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> SmtpSink:
        self.port = datagen.free_port()
        self._process = self._ctx.Process(
            target=_serve, args=(self.port, self._count, self._ready, self._stop), daemon=True
        )
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the benchmark SMTP server did not start")
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        if self._process is not None:
            self._process.join(10)

    @property
    def count(self) -> int:
        """Messages accepted so far."""
        return int(self._count.value)

    def config(self) -> SmtpConfig:
        """Where digest's SMTPSender finds this server."""
        return SmtpConfig(host="127.0.0.1", port=self.port, timeout=60)


def _serve(port: int, count: object, ready: object, stop: object) -> None:
    """The server process: accept every message, count it, drop it."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            with count.get_lock():  # type: ignore[attr-defined]
                count.value += 1  # type: ignore[attr-defined]
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()  # type: ignore[attr-defined]
    stop.wait()  # type: ignore[attr-defined]
    controller.stop()


def digest_messages(count: int, seed: int = 5) -> list[tuple[str, bytes]]:
    """`count` (recipient, message) pairs: real ten-paper digests, serialized for SMTP."""
    from benchmarks.bench_render import sample_digests
    from digest.mail.render import Renderer

    with tempfile.TemporaryDirectory() as tmp:
        settings = datagen.bench_settings("sqlite://", Path(tmp))
        renderer = Renderer(settings)
        digests = sample_digests(min(count, 300), random.Random(seed))
        messages = []
        for i in range(count):
            entries, links, keywords = digests[i % len(digests)]
            email = renderer.digest(
                entries, total=len(entries), day=date(2026, 11, 26), keywords=keywords, links=links
            )
            to_addr = f"reader{i}@example.org"
            raw = build_message(
                settings,
                to_addr=to_addr,
                subject=email.subject,
                text=email.text,
                html=email.html,
                message_key=f"bench:{i}",
                unsubscribe_url=links.unsubscribe,
            )
            messages.append((to_addr, raw))
    return messages


def _timed(
    sink: SmtpSink, messages: list[tuple[str, bytes]], send: Callable[[str, bytes], None]
) -> float:
    """Seconds to hand every message over, checked against the server's count."""
    before = sink.count
    started = time.perf_counter()
    for to_addr, raw in messages:
        send(to_addr, raw)
    seconds = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while sink.count - before < len(messages) and time.monotonic() < deadline:
        time.sleep(0.01)
    if sink.count - before != len(messages):
        raise AssertionError(f"the server got {sink.count - before} of {len(messages)} messages")
    return seconds


def run(messages: int = 2000) -> list[Row]:
    """Send `messages` digests both ways; one row each."""
    batch = digest_messages(messages)
    size = sum(len(raw) for _, raw in batch) / len(batch) / 1024
    sender_addr = "digest@example.org"
    with SmtpSink() as sink:
        reused = SMTPSender(sink.config(), local_hostname="example.org")
        seconds_reused = _timed(sink, batch, lambda to, raw: reused.send(sender_addr, to, raw))
        reused.close()
        fresh = SMTPSender(sink.config(), local_hostname="example.org")

        def reconnecting(to: str, raw: bytes) -> None:
            fresh.send(sender_addr, to, raw)
            fresh.close()  # the same code, but a new connection for every message

        seconds_fresh = _timed(sink, batch, reconnecting)
    scenario = f"{messages:,} digests of {size:.0f} KB to local aiosmtpd"
    return [
        Row(
            "SMTP delivery",
            f"{scenario}, one connection reused (SMTPSender)",
            f"{messages / seconds_reused:,.0f} msg/s ({seconds_reused:.1f} s)",
        ),
        Row(
            "SMTP delivery",
            f"{scenario}, new connection per message",
            f"{messages / seconds_fresh:,.0f} msg/s ({seconds_fresh:.1f} s); reuse is "
            f"{seconds_fresh / seconds_reused:.1f}x faster",
        ),
    ]


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print(datagen.table(run(args.messages)))


if __name__ == "__main__":
    main()
