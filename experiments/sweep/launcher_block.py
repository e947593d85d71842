"""A sweep's ``launcher:`` block: how ``--launcher slurm`` submits the runs (ignored by the local launcher)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.sweep.checker import Checker, kind_of
from experiments.sweep.keys import (
    DEFAULT_RUNS_PER_JOB,
    DEFAULT_TIME_LIMIT_MIN,
    LAUNCHER_KEYS,
    MAX_RUNS,
    MAX_TIME_LIMIT_MIN,
)
from experiments.sweep.spec import LauncherSpec


def launcher_settings(check: Checker, raw: Any, base_dir: Path) -> LauncherSpec:
    raw = {} if raw is None else check.mapping("launcher", raw)
    check.known("launcher", raw, LAUNCHER_KEYS)
    key = "launcher."
    folder = None
    if "folder" in raw:
        folder = Path(check.text(key + "folder", raw["folder"])).expanduser()
        folder = folder if folder.is_absolute() else base_dir / folder
    setup = raw.get("setup", [])
    setup = [setup] if isinstance(setup, str) else setup
    if not isinstance(setup, list):
        raise check.error(key + "setup", f"expected a shell line or a list of them, got {kind_of(setup)}")
    sbatch = check.mapping(key + "sbatch", raw.get("sbatch", {}))
    options = []
    for name, value in sbatch.items():
        where = f"{key}sbatch.{name}"
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise check.error(where, "expected an sbatch option name, e.g. account or qos")
        if isinstance(value, dict | list) or value is None or isinstance(value, bool):
            raise check.error(where, f"expected a string or number, got {kind_of(value)}")
        options.append((name.replace("_", "-"), str(value)))
    return LauncherSpec(
        partition=check.text(key + "partition", raw["partition"]) if "partition" in raw else "",
        time_limit_min=check.whole(
            key + "time_limit_min", raw.get("time_limit_min", DEFAULT_TIME_LIMIT_MIN), 1, MAX_TIME_LIMIT_MIN
        ),
        runs_per_job=check.whole(
            key + "runs_per_job", raw.get("runs_per_job", DEFAULT_RUNS_PER_JOB), 1, MAX_RUNS
        ),
        exclusive=check.flag(key + "exclusive", raw.get("exclusive", True)),
        array_parallelism=check.whole(
            key + "array_parallelism", raw.get("array_parallelism", 0), 0, MAX_RUNS
        ),
        folder=folder.resolve() if folder else None,
        setup=tuple(check.text(f"{key}setup[{i}]", line) for i, line in enumerate(setup)),
        sbatch=tuple(sorted(options)),
    )
