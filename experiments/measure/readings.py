"""The readings of a run after its traffic: each worker's private memory by kind of mapping, the phases of loading
and of the first requests, steady state (one full collection in every worker, then memory again) and, with the
objects probe, which inherited objects sit on pages a worker made private."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.measure.control import collect_everywhere
from experiments.measure.measurement import Live, Measurement, RunFailed
from experiments.measure.memory import MAPPING_KINDS, private_by_mapping, read_tree
from experiments.modes import get_mode

if TYPE_CHECKING:
    from experiments.measure.inbox import Inbox
    from experiments.plan import RunSpec


def snapshot_path(run: RunSpec, live: Live) -> Path | None:
    """Where the master writes its objects before fork: only with the probe on, in a mode that preloads
    (a lazy master holds no object of the app's for its workers to inherit)."""
    if not (run.probes.objects and get_mode(run.mode).preload):
        return None
    from experiments.measure.objects import SNAPSHOT_NAME

    return live.run_dir / SNAPSHOT_NAME


def measure_inherited_objects(path: Path, live: Live, m: Measurement) -> None:
    """After every memory reading of the row: which inherited objects sit on pages each worker keeps private."""
    from experiments.measure.objects import measure_objects

    t = time.monotonic()
    try:
        columns, details = measure_objects(path, live.workers)
    except (OSError, ValueError) as exc:
        raise RunFailed(f"objects probe: {type(exc).__name__}: {exc}") from None
    m.breakdown.update(columns)
    m.details["inherited_objects"] = details
    m.timings["objects"] = time.monotonic() - t


def private_memory(workers: list[int]) -> dict[str, float]:
    """Mean over workers of what each keeps private, by kind of mapping (the kinds add up to its USS)."""
    per_worker = [private_by_mapping(pid) for pid in workers]
    return {
        f"worker_private_{kind}_mb_mean": sum(w[kind] for w in per_worker) / len(per_worker) / 1024
        for kind in MAPPING_KINDS
    }


STARTUP_PHASES = ("settings", "apps_import", "models", "ready", "middleware", "other")
REQUEST_PHASES = ("urlconf", "db_connect", "templates", "view")


def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def phase_metrics(details: dict) -> dict[str, float]:
    """phase_* columns: means over the processes that loaded the app (the master, or every lazy worker), the
    warm-ups, and the workers' first requests."""
    found: dict[str, float | None] = {}
    loads = list(details.get("startup_phases", {}).values())
    for name in STARTUP_PHASES:
        found[f"phase_{name}_s"] = _mean(load[name] for load in loads)
    found["phase_warmup_s"] = _mean(details.get("warmup_seconds", {}).values())
    firsts = list(details.get("first_request_phases", {}).values())
    for name in REQUEST_PHASES:
        found[f"phase_{name}_ms"] = _mean(first[name] for first in firsts)
    return {name: value for name, value in found.items() if value is not None}


def measure_steady_state(run: RunSpec, live: Live, inbox: Inbox, token: str, m: Measurement) -> None:
    t = time.monotonic()
    collected = collect_everywhere(
        inbox, live.port, live.workers, token, run.traffic.timeout, hold=live.server.shared_listener
    )
    steady = read_tree(live.process.pid, live.workers)
    m.timings["steady_state"] = time.monotonic() - t
    m.memory_steady_mb = steady.total_mb("pss")
    m.worker_uss_steady_mb_mean = steady.worker_uss_mb_mean
    reports = list(collected.values())
    m.worker_gen2_collections_mean = sum(r.collections[-1] for r in reports) / len(reports)
    m.collect_ms_mean = sum(r.collect_ms for r in reports) / len(reports)
    m.details["collections_since_ready"] = {pid: list(r.collections) for pid, r in collected.items()}
