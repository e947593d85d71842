"""Workers that come and go while traffic runs: the wrapper's datagrams, read in a thread of their own.

A server that recycles (max requests, RSS, lifetime) lets a worker go — the wrapper reports ``retired`` with the
requests it served — and forks a replacement, which reports ``forked`` then ``ready`` as the first workers did.
Each replacement is paired with the oldest retirement still open: that is one recycle, and what it cost is
how long the slot had no worker (retired → the replacement ready), the replacement's memory as it became ready,
and its first request (read from the traffic). A worker that exits without retiring, or an ``error`` from any
process, is a failure the caller reports. Every worker ever seen is kept, so that the run's end kills them all.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from experiments.measure.inbox import Inbox, Message
from experiments.measure.memory import read_process

POLL_S = 0.05


def note(message: Message, details: dict) -> None:
    """Keep what a wrapper reported about one process: its loading phases, a warm-up, a first request."""
    if message.kind == "phases":
        details.setdefault("startup_phases", {})[message.pid] = json.loads(message.rest)
    elif message.kind == "firstreq":
        details.setdefault("first_request_phases", {})[message.pid] = json.loads(message.rest)
    elif message.kind == "warmed":
        details.setdefault("warmup_seconds", {})[message.pid] = float(message.rest.partition(" ")[0])


def drain(inbox: Inbox, details: dict) -> None:
    """Read what the wrappers sent while we were busy (first requests report as they are served)."""
    while (message := inbox.receive(0.0)) is not None:
        note(message, details)


@dataclass
class Recycle:
    old_pid: int
    retired_ns: int
    requests: int  # what the old worker served
    new_pid: int | None = None
    ready_ns: int | None = None
    pss_mb: float | None = None  # the replacement, as it became ready
    uss_mb: float | None = None
    first_request_ms: float | None = None  # filled from the traffic

    @property
    def unavailable_ms(self) -> float | None:
        return None if self.ready_ns is None else (self.ready_ns - self.retired_ns) / 1e6

    def record(self) -> dict:
        return {**vars(self), "unavailable_ms": self.unavailable_ms}


@dataclass
class Lifecycle:
    inbox: Inbox
    workers: list[int]  # the current workers: updated in place, as the executor's kill list
    details: dict  # the run's: phases and first requests of the workers that were ready before traffic
    recycles: list[Recycle] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)  # every worker pid, retired ones included
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.seen = list(self.workers)
        self.initial = set(self.workers)

    def current(self) -> list[int]:
        with self._lock:
            return list(self.workers)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def settled(self, expected: int) -> bool:
        """Every retirement has its replacement ready and ``expected`` workers serve."""
        with self._lock:
            return len(self.workers) == expected and all(r.new_pid is not None for r in self.recycles)

    def _watch(self) -> None:
        while not self._stop.is_set():
            message = self.inbox.receive(POLL_S)
            if message is not None:
                self.handle(message)

    def handle(self, message: Message) -> None:
        kind, pid = message.kind, message.pid
        with self._lock:
            if kind == "retired":
                self._retired(message)
            elif kind == "ready" and pid not in self.seen:
                self._replaced(message)
            elif kind == "exited" and pid in self.workers:
                self.problems.append(f"worker {pid} exited (status {message.rest}) during traffic")
                self.workers.remove(pid)
            elif kind == "error":
                lines = message.rest.strip().splitlines() or ["unknown error"]
                self.problems.append(f"worker {pid}: {lines[-1]}")
            elif pid in self.initial:
                note(message, self.details)  # a replacement's phases would mix recycling into start-up

    def _retired(self, message: Message) -> None:
        if message.pid in self.workers:
            self.workers.remove(message.pid)
        served = int(message.rest) if message.rest.strip().isdigit() else 0
        self.recycles.append(Recycle(message.pid, message.sent_ns, served))

    def _replaced(self, message: Message) -> None:
        pid = message.pid
        self.workers.append(pid)
        self.seen.append(pid)
        open_recycle = next((r for r in self.recycles if r.new_pid is None), None)
        if open_recycle is None:
            self.problems.append(f"worker {pid} started during traffic, replacing no retired worker")
            return
        open_recycle.new_pid, open_recycle.ready_ns = pid, message.sent_ns
        try:
            memory = read_process(pid)
        except OSError:
            return
        open_recycle.pss_mb = memory.pss_kb / 1024
        open_recycle.uss_mb = memory.uss_kb / 1024
