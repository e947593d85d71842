"""The one list of loading modes: where the app is imported and warmed, relative to the fork of the workers.

Every other module asks this one: the sweep validates names against it, the servers ask whether to preload,
the executor turns a mode into the wrapper's environment (the wrapper is standalone and never sees mode names
it would have to interpret), analysis orders its tables and plots by it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    preload: bool  # the app is imported in the master, before fork (uWSGI default, gunicorn --preload)
    warm_before_fork: bool  # the master sends the warm-up requests through the app before fork
    warm_after_fork: bool  # each worker sends them through its own app before it reports ready
    freeze: bool  # gc disabled while loading, frozen before fork, re-enabled in each worker
    sequence: str  # what happens, in the words of the talk's slides
    # with freeze: one full collection just before gc.freeze(). Python's gc documentation leaves it out: it
    # frees the master's garbage but leaves holes in the pages fork shares, which workers' allocations then copy
    collect_before_freeze: bool = True


MODES: tuple[Mode, ...] = (
    Mode("lazy", False, False, False, False, "fork workers → each worker loads Django → ready"),
    Mode("prefork", True, False, False, False, "load wsgi.py in the master → fork → ready"),
    Mode("prewarm", True, True, False, False, "load and warm up in the master → fork → ready"),
    Mode("prewarm-freeze", True, True, False, True, "as prewarm, then gc.collect() + gc.freeze() → fork"),
    Mode("lazy-warm", False, False, True, False, "fork → each worker loads Django and warms up → ready"),
    Mode(
        "prefork-warm",
        True,
        False,
        True,
        False,
        "load wsgi.py in the master → fork → each worker warms up → ready",
    ),
    Mode(
        "prewarm-freeze-nocollect",
        True,
        True,
        False,
        True,
        "as prewarm, then gc.freeze() without a collection (Python's documented recipe) → fork",
        collect_before_freeze=False,
    ),
)

MODE_NAMES: tuple[str, ...] = tuple(mode.name for mode in MODES)
BY_NAME: dict[str, Mode] = {mode.name: mode for mode in MODES}


def get_mode(name: str) -> Mode:
    """The mode called ``name``; KeyError for an unknown one (the sweep has validated names before)."""
    return BY_NAME[name]


def mode_rank(name: str) -> int:
    """Position in MODES; unknown names (from an older or newer CSV) sort after every known one."""
    return MODE_NAMES.index(name) if name in BY_NAME else len(MODE_NAMES)


def warms(name: str) -> bool:
    """True when the measured first request meets an app that has already served the warm-up requests."""
    mode = BY_NAME.get(name)
    return mode is not None and (mode.warm_before_fork or mode.warm_after_fork)


def wrapper_environment(name: str) -> dict[str, str]:
    """The wrapper's configuration for a mode: flags, never the name to interpret."""
    mode = BY_NAME[name]
    warm = "before-fork" if mode.warm_before_fork else "after-fork" if mode.warm_after_fork else "none"
    return {
        "PREFORK_LAB_MODE": mode.name,  # for messages only
        "PREFORK_LAB_PRELOAD": "1" if mode.preload else "0",
        "PREFORK_LAB_WARM": warm,
        "PREFORK_LAB_FREEZE": "1" if mode.freeze else "0",
        "PREFORK_LAB_FREEZE_COLLECT": "1" if mode.collect_before_freeze else "0",
    }
