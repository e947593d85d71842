"""Waiting for every worker to be ready: the wrapper's messages until each worker said ``ready`` (forks, loads,
warm-ups and their statuses, connections closed before fork noted on the way), or why the run cannot be."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from experiments.measure.inbox import Inbox, Message
from experiments.measure.lifecycle import note
from experiments.measure.measurement import RunFailed, RunTimedOut
from experiments.measure.traffic import acceptable

if TYPE_CHECKING:
    from experiments.measure.measurement import Live
    from experiments.plan import RunSpec


def _check_warmup(message: Message, details: dict, allowed: Mapping[str, tuple[int, ...]], urls) -> None:
    seconds, _, statuses = message.rest.partition(" ")
    details["warmup_s"] = float(seconds)
    details["warmup_statuses"] = statuses
    for url, status in zip(urls, statuses.split(","), strict=False):
        if not status.isdigit() or not acceptable(int(status), allowed.get(url, ())):
            raise RunFailed(f"warm-up GET {url}: HTTP {status} (an error page is not a measurement)")


def wait_ready(
    inbox: Inbox, live: Live, run: RunSpec, launched_ns: int, details: dict, urls: tuple[str, ...]
) -> dict[int, Message]:
    """Wait until every worker sent ``ready``; pid -> its message. Raises RunFailed or RunTimedOut."""
    deadline = launched_ns + int(run.server.timeout * 1e9)
    ready: dict[int, Message] = {}
    forked = details.setdefault("forked_ns", {})
    while len(ready) < run.workers:
        remaining = (deadline - time.monotonic_ns()) / 1e9
        if remaining <= 0:
            raise RunTimedOut(
                f"timeout: {len(ready)} of {run.workers} workers ready after {run.server.timeout:g} s"
            )
        # The datagram wakes us at once; the short timeout only bounds how late a dead master is noticed.
        message = inbox.receive(min(remaining, 0.05))
        if message is None:
            code = live.process.poll()
            if code is not None:
                raise RunFailed(f"{live.server.name} exited with status {code} before every worker was ready")
            continue
        if message.kind == "ready" and message.pid not in ready:
            ready[message.pid] = message
            live.workers.append(message.pid)
        elif message.kind == "forked":
            forked.setdefault(message.pid, message.sent_ns)
        elif message.kind == "closed":
            count, _, names = message.rest.partition(" ")
            details["closed_before_fork"] = {"count": int(count), "connections": names.split(",")}
        elif message.kind == "loaded":
            seconds, _, engine = message.rest.partition(" ")
            loads = details.setdefault("load_seconds", {})
            loads[message.pid] = float(seconds)
            details["load_s"] = sum(loads.values()) / len(loads)
            if engine and engine != "-":
                details["database_engine"] = engine
        elif message.kind in ("warmed", "phases"):
            note(message, details)
            if message.kind == "warmed":
                _check_warmup(message, details, run.traffic.allowed, urls)
        elif message.kind == "exited":
            raise RunFailed(
                f"worker {message.pid} exited (status {message.rest}) before every worker was ready"
            )
        elif message.kind == "error":
            lines = message.rest.strip().splitlines() or ["unknown error"]
            if lines[0].startswith("Traceback"):
                raise RunFailed(f"the app failed to load: {lines[-1]}")
            raise RunFailed(lines[-1])
    return ready
