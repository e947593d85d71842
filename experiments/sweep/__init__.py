"""Sweep files: load the YAML, validate every key (naming it and its line), expand lists into combinations.

A list anywhere under ``project`` or ``server`` is swept as a cross-product, except ``project.urls``
(one list of URLs). The result is a frozen :class:`Sweep` holding the expanded project and server
combinations; ``plan.py`` crosses them with repetitions.

The package, one noun each: ``keys`` (every key, default and bound), ``spec`` (the frozen values), ``yaml_lines``
(the YAML with the line of every key), ``checker`` (the checks every section uses), the blocks
(``project_block``, ``python_block``, ``server_block``, ``traffic_block``, ``launcher_block``) and ``parse`` (the
whole file).
What other modules use is here.
"""

from experiments.modes import MODE_NAMES as MODES
from experiments.sweep.keys import (
    DATABASE_KEYS,
    DEFAULT_MAX_URLS,
    DEFAULT_REQUESTS_PER_WORKER,
    EXISTING_KEYS,
    LAUNCHER_KEYS,
    PROBE_KEYS,
    SERVER_KEYS,
    TOP_KEYS,
    TRAFFIC_KEYS,
)
from experiments.sweep.parse import load_sweep, parse_sweep
from experiments.sweep.spec import (
    LauncherSpec,
    ProbeSpec,
    ProjectSpec,
    Recycling,
    ServerSpec,
    Sweep,
    TrafficSpec,
)

__all__ = [
    "DATABASE_KEYS",
    "DEFAULT_MAX_URLS",
    "DEFAULT_REQUESTS_PER_WORKER",
    "EXISTING_KEYS",
    "LAUNCHER_KEYS",
    "MODES",
    "PROBE_KEYS",
    "SERVER_KEYS",
    "TOP_KEYS",
    "TRAFFIC_KEYS",
    "LauncherSpec",
    "ProbeSpec",
    "ProjectSpec",
    "Recycling",
    "ServerSpec",
    "Sweep",
    "TrafficSpec",
    "load_sweep",
    "parse_sweep",
]
