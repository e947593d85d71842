"""Steady state: one full garbage collection in every worker, asked for by control requests only we can send.

Whether a worker has run its first full collection after a short burst of traffic is a knife edge of allocation
counts, and it decides the worker's private memory. So after traffic each worker runs ``gc.collect()`` once,
then memory is read again. The request carries a per-run secret token in a header, which the wrapper checks
before the project sees anything; each worker holds its control request until every worker has collected, so
that one held worker cannot take a second one (with gthread workers a busy worker may still answer a second
request at once: that answer says "again" and another round is sent).

Holding steers only where every worker accepts from one shared socket. Where the kernel hands each connection
to one worker's own socket (granian: SO_REUSEPORT), a request meant for another worker would wait behind the
hold: there each worker is released as soon as it has collected, and every round sends one request per worker,
so that each missing worker is reached by chance within a few rounds.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass

from experiments.measure.inbox import Inbox
from experiments.measure.traffic import TrafficError

CONTROL_HEADER = "X-Prefork-Lab-Control"
MAX_ROUNDS = 10
JOIN_S = 10.0


@dataclass(frozen=True)
class Collected:
    pid: int
    collections: tuple[int, ...]  # per generation, since the worker was ready, before ours
    collect_ms: float  # how long our full collection took
    frozen: int  # objects in the permanent generation (gc.freeze)


def _control_request(port: int, token: str, timeout: float, errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={CONTROL_HEADER: token, "Connection": "close"})
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200 or not body.startswith(b"{"):
            errors.append(f"control request answered HTTP {answer.status}")
    except (OSError, http.client.HTTPException) as exc:
        errors.append(f"control request: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _parse(rest: str, pid: int) -> Collected:
    report = json.loads(rest)
    return Collected(pid, tuple(report["collections"]), float(report["collect_ms"]), int(report["frozen"]))


def _round(
    inbox: Inbox,
    port: int,
    token: str,
    missing: list[int],
    deadline: float,
    collected: dict,
    requests: int,
    hold: bool,
) -> list[threading.Thread]:
    """Send ``requests`` control requests and gather ``collected`` messages until none can come."""
    errors: list[str] = []
    remaining = max(0.1, deadline - time.monotonic())
    threads = [
        threading.Thread(target=_control_request, args=(port, token, remaining, errors), daemon=True)
        for _ in range(requests)
    ]
    for thread in threads:
        thread.start()
    while not set(missing) <= set(collected) and any(t.is_alive() for t in threads):
        if time.monotonic() > deadline:
            raise TrafficError(f"control: timed out; {len(collected)} workers collected")
        message = inbox.receive(0.05)
        if message is None:
            continue
        if message.kind == "collected":
            collected[message.pid] = _parse(message.rest, message.pid)
            if not hold:
                inbox.release(message.pid)
        elif message.kind == "error" or (
            message.kind == "exited" and message.pid in missing + list(collected)
        ):
            # a recycled worker's exit, reported late, is not this round's concern
            raise TrafficError(f"control: worker {message.pid} {message.kind} {message.rest}".strip())
    if errors:
        raise TrafficError(errors[0])
    return threads


def collect_everywhere(
    inbox: Inbox, port: int, workers: list[int], token: str, timeout: float, hold: bool = True
) -> dict:
    """pid -> Collected for every worker; TrafficError when one cannot be reached. Releases every hold.

    ``hold``: each worker holds its control request until every worker has collected (see above).
    """
    collected: dict[int, Collected] = {}
    threads: list[threading.Thread] = []
    deadline = time.monotonic() + timeout
    try:
        for _ in range(MAX_ROUNDS):
            missing = [pid for pid in workers if pid not in collected]
            if not missing:
                break
            requests = len(missing) if hold else len(workers)
            threads += _round(inbox, port, token, missing, deadline, collected, requests, hold)
    finally:
        for pid in collected:
            inbox.release(pid)
        for thread in threads:
            thread.join(JOIN_S)
    strangers = set(collected) - set(workers)
    if strangers or len(collected) < len(workers):
        raise TrafficError(
            f"control: {len(set(workers) & set(collected))} of {len(workers)} workers collected"
            + (f"; unknown pids {sorted(strangers)}" if strangers else "")
        )
    return collected
