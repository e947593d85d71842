"""A directory of the cache (a generated project, a runtime environment) appears only once complete: it is built
in a private scratch directory beside it and renamed into place, which is atomic on every file system, shared
ones (NFS, Lustre) included, where ``flock`` cannot be trusted. Two builders race harmlessly: the first rename
wins and the other one's copy is removed; an entry that is not complete is ours to replace."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from experiments.errors import ExperimentError
from generator.process import exists


def scratch_beside(path: Path) -> Path:
    """This builder's private directory beside ``path``: its name holds the host and pid, so that a builder
    killed half-way can be told from one still at work (``remove_dead_builds``)."""
    return path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.building")


def remove_dead_builds(path: Path) -> None:
    """Remove what builders of ``path`` on this host left when they were killed (their pid is gone): their
    scratch directories and the generator's staging inside their name."""
    if not path.parent.is_dir():
        return
    marker = re.compile(rf"^\.\.?{re.escape(path.name)}\.{re.escape(socket.gethostname())}-(\d+)\.")
    for entry in path.parent.iterdir():
        found = marker.match(entry.name)
        if found and not exists(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def remove_aside(path: Path) -> None:
    """Rename ``path`` out of the way first (atomic), then delete it at leisure."""
    aside = path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)


def put_in_place(scratch: Path, path: Path, complete: Callable[[], bool], what: str) -> bool:
    """Rename the finished ``scratch`` to ``path``: True when ours went in, False when another builder's
    complete entry was there first (``scratch`` is then the caller's to remove). An incomplete entry in the
    way is replaced; ExperimentError naming ``what`` when something else keeps the place."""
    if path.exists() and not complete():  # an earlier build that did not finish
        remove_aside(path)
    try:
        os.rename(scratch, path)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        if not complete():
            raise ExperimentError(f"cannot build {what}: {path} is in the way") from None
        return False
    return True
