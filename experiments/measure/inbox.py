"""The runner's end of the wrapper's datagrams: one abstract unix socket per run (no path, nothing on disk)."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

RECEIVE_BUFFER = 1 << 20


@dataclass(frozen=True)
class Message:
    kind: str  # forked, loaded, warmed, ready, collected, exited, error
    pid: int
    sent_ns: int  # the wrapper's time.monotonic_ns() (same clock as ours: same machine)
    received_ns: int
    rest: str  # what follows the timestamp


def parse(data: bytes, received_ns: int) -> Message | None:
    kind, _, tail = data.decode("utf-8", "replace").partition(" ")
    parts = tail.split(" ", 2)
    try:
        pid, sent = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None  # not ours: a datagram we cannot read is ignored, never fatal
    return Message(kind, pid, sent, received_ns, parts[2] if len(parts) > 2 else "")


class Inbox:
    """Bound on creation; ``address`` goes to the wrapper as PREFORK_LAB_NOTIFY."""

    def __init__(self, name: str):
        self.name = name
        self.address = "@" + name
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._socket.bind("\0" + name)
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            self._socket.close()
            raise

    def receive(self, timeout: float) -> Message | None:
        """The next message, or None after ``timeout`` seconds (the datagram wakes us at once)."""
        self._socket.settimeout(max(timeout, 1e-6))
        try:
            data = self._socket.recv(65536)
        except TimeoutError:
            return None
        return parse(data, time.monotonic_ns())

    def release(self, pid: int) -> None:
        """Let a worker holding a control request answer it (see the wrapper)."""
        with contextlib.suppress(OSError):
            self._socket.sendto(b"release", f"\0{self.name}-release-{pid}")

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
