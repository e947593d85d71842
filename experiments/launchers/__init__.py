"""Where the runs of a sweep execute: here, one after the other (local.py), or as jobs on a Slurm cluster
(slurm.py, through submitit). base.py is the interface they share."""

from __future__ import annotations

LAUNCHER_NAMES: tuple[str, ...] = ("local", "slurm")
DEFAULT_LAUNCHER = "local"
