"""Memory of a process tree from /proc/<pid>/smaps_rollup (PSS, USS, RSS in kB), and CPU time from stat."""

from __future__ import annotations

import os
from dataclasses import dataclass

_FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "private_clean", "Private_Dirty:": "private_dirty"}


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    rss_kb: int
    pss_kb: int
    uss_kb: int  # Private_Clean + Private_Dirty


def read_process(pid: int) -> ProcessMemory:
    """Memory of one process; raises OSError (FileNotFoundError) when it is gone."""
    values = dict.fromkeys(_FIELDS.values(), 0)
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            parts = line.split()
            if parts and parts[0] in _FIELDS:
                values[_FIELDS[parts[0]]] = int(parts[1])
    return ProcessMemory(
        pid=pid,
        rss_kb=values["rss"],
        pss_kb=values["pss"],
        uss_kb=values["private_clean"] + values["private_dirty"],
    )


@dataclass(frozen=True)
class TreeMemory:
    master: ProcessMemory
    workers: tuple[ProcessMemory, ...]

    @property
    def processes(self) -> tuple[ProcessMemory, ...]:
        return (self.master, *self.workers)

    def total_mb(self, field: str) -> float:
        return sum(getattr(p, f"{field}_kb") for p in self.processes) / 1024

    @property
    def worker_uss_mb_mean(self) -> float:
        if not self.workers:
            return 0.0
        return sum(w.uss_kb for w in self.workers) / len(self.workers) / 1024


def read_tree(master_pid: int, worker_pids: list[int] | tuple[int, ...]) -> TreeMemory:
    return TreeMemory(master=read_process(master_pid), workers=tuple(read_process(p) for p in worker_pids))


# What a worker keeps private, by the kind of mapping that holds it (the sum is its USS).
MAPPING_KINDS = ("heap", "anon", "file", "other")


def _kind_of(name: str) -> str:
    if name == "[heap]":
        return "heap"  # malloc's brk heap: large objects, C extensions' allocations
    if not name or name.startswith("[anon"):
        return "anon"  # anonymous mmaps: CPython's object arenas, big malloc blocks
    if name.startswith("/"):
        return "file"  # file-backed: shared libraries' relocated data, mapped files
    return "other"  # [stack], [vvar], [vdso], …


def private_by_mapping(pid: int) -> dict[str, int]:
    """Private (Private_Clean + Private_Dirty) kB per kind of mapping, from /proc/<pid>/smaps; OSError if gone."""
    totals = dict.fromkeys(MAPPING_KINDS, 0)
    kind = "other"
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head = line.split(None, 1)[0]
            if head.endswith(":"):
                if head in ("Private_Clean:", "Private_Dirty:"):
                    totals[kind] += int(line.split()[1])
                continue
            # a mapping's header: address perms offset dev inode [name]
            fields = line.split(None, 5)
            kind = _kind_of(fields[5].strip() if len(fields) > 5 else "")
    return totals


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (/proc/<pid>/stat), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime and stime: fields 14 and 15 of stat(5)
