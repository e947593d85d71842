"""The objects probe: which of the Python objects a worker inherited from its master sit on pages it now keeps
private, by type and by module.

The wrapper writes a snapshot of every object the master's collector tracks just before fork (address, size,
type, module; see ``snapshot_objects`` in snapshot.py). After the steady-state reading, the runner reads each
worker's ``/proc/<pid>/pagemap`` for the pages that hold those objects: the reading happens here, in the
runner, so that the worker allocates nothing for it (an allocation in a worker would land in free blocks of
inherited pages and make them private, the very thing being measured).

An object is placed on the page of its GC header (the two words before ``id()``), which is what a full
collection writes; reference counts sit in the words right after it. A page is private to the worker when it
is present and exclusively mapped (pagemap bit 56, Linux 4.2+): mapped once, as smaps' Private_* counts it.
Sizes are ``sys.getsizeof``, which for containers include their item tables allocated elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from experiments.measure.snapshot import SNAPSHOT_MAGIC

SNAPSHOT_NAME = "prefork_lab_objects.bin"
PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63
EXCLUSIVE = 1 << 56
TOP = 15
SPAN_GAP = 64  # pages: nearer pages are read in one pread, the gap's entries read and ignored
MB = 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    types: list[str]
    modules: list[str]
    sizes: object  # numpy arrays, one entry per object
    kinds: object  # index into types
    owners: object  # index into modules ("" at 0: not a function, class or module)
    pages: object  # sorted unique page numbers holding the objects' GC headers
    page_of: object  # per object: index into pages

    @property
    def inherited_mb(self) -> float:
        return len(self.pages) * PAGE / MB


def read_snapshot(path: Path) -> Snapshot:
    """The wrapper's snapshot; ValueError when the file is not one."""
    import numpy as np

    data = Path(path).read_bytes()
    if not data.startswith(SNAPSHOT_MAGIC):
        raise ValueError(f"{path}: not an objects snapshot")
    line_end = data.index(b"\n", len(SNAPSHOT_MAGIC))
    header = json.loads(data[len(SNAPSHOT_MAGIC) : line_end])
    n, offset = header["count"], line_end + 1
    addresses = np.frombuffer(data, np.uint64, n, offset)
    sizes = np.frombuffer(data, np.uint64, n, offset + 8 * n)
    kinds = np.frombuffer(data, np.uint32, n, offset + 16 * n)
    owners = np.frombuffer(data, np.uint32, n, offset + 20 * n)
    pages, page_of = np.unique(
        (addresses - np.uint64(header["gc_head"])) // np.uint64(PAGE), return_inverse=True
    )
    return Snapshot(header["types"], header["modules"], sizes, kinds, owners, pages, page_of)


def private_pages(pid: int, pages) -> object:
    """Per page of ``pages`` (sorted), True when it is present and mapped only by process ``pid``."""
    import numpy as np

    private = np.zeros(len(pages), dtype=bool)
    breaks = np.flatnonzero(np.diff(pages) > SPAN_GAP) + 1
    with open(f"/proc/{pid}/pagemap", "rb") as handle:
        for chunk in np.split(np.arange(len(pages)), breaks):
            first, last = int(pages[chunk[0]]), int(pages[chunk[-1]])
            raw = os.pread(handle.fileno(), 8 * (last - first + 1), 8 * first)
            entries = np.frombuffer(raw, np.uint64)[(pages[chunk] - np.uint64(first)).astype(np.int64)]
            private[chunk] = (entries & np.uint64(PRESENT | EXCLUSIVE)) == np.uint64(PRESENT | EXCLUSIVE)
    return private


def _top(labels: list[str], index, sizes, on_private) -> list[list]:
    """[label, objects, MB, private MB] of the TOP labels by private MB."""
    import numpy as np

    count = np.bincount(index, minlength=len(labels))
    size = np.bincount(index, weights=sizes, minlength=len(labels))
    private = np.bincount(index, weights=sizes * on_private, minlength=len(labels))
    order = np.argsort(-private, kind="stable")[:TOP]
    return [
        [
            labels[i] or "(other objects)",
            int(count[i]),
            round(float(size[i]) / MB, 3),
            round(float(private[i]) / MB, 3),
        ]
        for i in order
        if private[i] > 0
    ]


def attribute(snapshot: Snapshot, pid: int) -> dict:
    """One worker: MB of the inherited objects' pages now private, and the top types and modules."""
    private = private_pages(pid, snapshot.pages)
    on_private = private[snapshot.page_of]
    sizes = snapshot.sizes.astype(float)
    return {
        "private_pages_mb": round(int(private.sum()) * PAGE / MB, 3),
        "private_objects": int(on_private.sum()),
        "types": _top(snapshot.types, snapshot.kinds, sizes, on_private),
        "modules": _top(snapshot.modules, snapshot.owners, sizes, on_private),
    }


def measure_objects(snapshot_path: Path, workers: list[int]) -> tuple[dict[str, float], dict]:
    """(columns, details) for the run: the snapshot's pages, and what each worker made private of them."""
    snapshot = read_snapshot(snapshot_path)
    per_worker = {pid: attribute(snapshot, pid) for pid in workers}
    columns = {
        "inherited_objects_mb": snapshot.inherited_mb,
        "worker_private_objects_mb_mean": sum(w["private_pages_mb"] for w in per_worker.values())
        / len(per_worker),
    }
    details = {
        "objects": int(len(snapshot.sizes)),
        "objects_mb": round(float(snapshot.sizes.sum()) / MB, 3),
        "inherited_pages_mb": round(snapshot.inherited_mb, 3),
        "workers": per_worker,
    }
    return columns, details
