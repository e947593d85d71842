"""A sweep file or text into a :class:`Sweep`: its top-level keys, each block through its own module, the plan's
size bounded before it is built."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from experiments.errors import ExperimentError, SweepError
from experiments.sweep.checker import Checker
from experiments.sweep.keys import MAX_REPETITIONS, MAX_RUNS, MAX_WARMUP_RUNS, TOP_KEYS
from experiments.sweep.launcher_block import launcher_settings
from experiments.sweep.project_block import check_distinct, existing_projects, generated_projects
from experiments.sweep.python_block import interpreters, on_each
from experiments.sweep.server_block import server_settings
from experiments.sweep.spec import ProjectSpec, Sweep
from experiments.sweep.traffic_block import probe_settings, traffic_settings
from experiments.sweep.yaml_lines import load_yaml


def parse_sweep(
    text: str, *, base_dir: Path, default_name: str = "sweep", source: Path | None = None
) -> Sweep:
    """Validate a sweep given as YAML text; relative paths are relative to ``base_dir``."""
    data, places = load_yaml(text)
    check = Checker(places.lines, places.texts)
    if data is None:
        raise SweepError("sweep", "the file is empty")
    check.mapping("sweep", data)
    check.known("", data, TOP_KEYS)
    name = check.text("name", data["name"]) if "name" in data else default_name
    if "/" in name or name.startswith("."):
        raise check.error("name", f"must not contain '/' or start with '.', got {name!r}")
    repetitions = check.whole("repetitions", data.get("repetitions", 1), 1, MAX_REPETITIONS)
    seed = check.whole("seed", data.get("seed", 0), 0, 2**63 - 1)
    warmup_runs = check.whole("warmup_runs", data.get("warmup_runs", 1), 0, MAX_WARMUP_RUNS)
    pythons = interpreters(check, data["python"], base_dir) if "python" in data else []
    projects = _projects(check, data, base_dir, bool(pythons))
    if pythons:
        projects = on_each(projects, pythons)
    servers = list(dict.fromkeys(server_settings(check, data.get("server"))))
    _check_plan_size(len(projects), len(servers), repetitions, bool(pythons))
    traffic = traffic_settings(check, data.get("traffic"))
    probes = probe_settings(check, data.get("probes"))
    launcher = launcher_settings(check, data.get("launcher"), base_dir)
    return Sweep(
        name=name,
        repetitions=repetitions,
        seed=seed,
        projects=tuple(projects),
        servers=tuple(servers),
        traffic=traffic,
        probes=probes,
        launcher=launcher,
        output=_output(check, data, name, base_dir),
        warmup_runs=warmup_runs,
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        raw=data,
    )


def _projects(check: Checker, data: dict, base_dir: Path, axis: bool) -> list[ProjectSpec]:
    """Every project of the ``project`` block, or of each block of a list of them, once."""
    if "project" not in data:
        raise check.error(
            "project", "required: generator options (models: …) or an existing project (path: …)"
        )
    # A list of project blocks shares one plan: their runs interleave, so they see the same machine.
    blocks = data["project"] if isinstance(data["project"], list) else [data["project"]]
    if not blocks:
        raise check.error("project", "an empty list measures nothing")
    projects: list[ProjectSpec] = []
    named: set[str] = set()
    for index, block in enumerate(blocks):
        key = f"project[{index}]" if isinstance(data["project"], list) else "project"
        block = check.mapping(key, block)
        found = (
            existing_projects(check, block, base_dir, key, axis)
            if "path" in block
            else generated_projects(check, block, key)
        )
        if "name" in block:
            if block["name"] in named:
                raise check.error(f"{key}.name", f"{block['name']!r} already names another project block")
            named.add(block["name"])
        check_distinct(check, key, projects, found)
        projects += found
    return list(dict.fromkeys(projects))


def _output(check: Checker, data: dict[str, Any], name: str, base_dir: Path) -> Path:
    """The results CSV: ``output``, or results/<name>.csv, relative to ``base_dir``."""
    output = (
        Path(check.text("output", data["output"])) if "output" in data else Path("results") / f"{name}.csv"
    )
    output = output.expanduser()
    if not output.is_absolute():
        output = base_dir / output
    return output.resolve()


def _check_plan_size(projects: int, servers: int, repetitions: int, axis: bool = False) -> None:
    """The plan's size, refused before a single run of it is built."""
    runs = projects * servers * repetitions
    if runs > MAX_RUNS:
        where = "project × python" if axis else "project"
        raise SweepError(
            "sweep",
            f"{runs} runs = {projects} projects ({where}) × {servers} server settings (server) × "
            f"{repetitions} repetitions; at most {MAX_RUNS} per sweep",
        )


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file. Raises SweepError (bad content) or ExperimentError (unreadable)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{path}: cannot read the sweep file ({exc})") from None
    return parse_sweep(text, base_dir=path.resolve().parent, default_name=path.stem, source=path.resolve())
