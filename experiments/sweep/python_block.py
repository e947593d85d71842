"""A sweep's ``python`` axis: the interpreters every project runs on, each found on this machine while the file
is read (a missing one is refused with its key and line, before anything is built or run), and every project
crossed with each of them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from experiments.interpreters import Interpreter, InterpreterError, find
from experiments.sweep.checker import Checker, kind_of
from experiments.sweep.spec import ProjectSpec


def interpreters(check: Checker, value: Any, base_dir: Path) -> list[Interpreter]:
    """The interpreters of ``python``: a version, a path or a command, or a list of them (swept)."""
    if isinstance(value, list) and not value:
        raise check.error("python", "an empty list sweeps nothing")
    items = value if isinstance(value, list) else [value]
    found: list[Interpreter] = []
    keys: dict[str, str] = {}  # build label -> the key that named it
    for index, item in enumerate(items):
        key = f"python[{index}]" if isinstance(value, list) else "python"
        text = check.written(key, item)
        if isinstance(text, bool) or not isinstance(text, str | int | float) or not str(text).strip():
            raise check.error(
                key, f"expected a version (3.12), a path or a command on PATH, got {kind_of(item)}"
            )
        try:
            interpreter = find(str(text), base_dir)
        except InterpreterError as exc:
            raise check.error(key, str(exc)) from None
        label = interpreter.build_label
        if label in keys:
            raise check.error(
                key, f"{label} again (as {keys[label]}): two builds of one version would share their run ids"
            )
        keys[label] = key
        found.append(interpreter)
    return found


def on_each(projects: list[ProjectSpec], pythons: list[Interpreter]) -> list[ProjectSpec]:
    """Every project on every interpreter, each project's interpreters together (the plan shuffles them)."""
    return [replace(project, interpreter=python) for project in projects for python in pythons]
