"""The checks every section of a sweep file uses: each error names its key and the line it is on."""

from __future__ import annotations

import itertools
import math
from typing import Any

from experiments.errors import SweepError
from experiments.sweep.keys import MAX_RUNS, MAX_TIMEOUT_S


class Checker:
    def __init__(self, lines: dict[str, int], texts: dict[str, str] | None = None):
        self.lines = lines
        self.texts = texts or {}  # each scalar as written in the file

    def written(self, key: str, value: Any) -> Any:
        """A number as the file writes it (``3.10``, not 3.1), any other value as it is."""
        if isinstance(value, int | float) and not isinstance(value, bool) and key in self.texts:
            return self.texts[key]
        return value

    def error(self, key: str, message: str) -> SweepError:
        """The error for ``key``, at its own line or else at the nearest enclosing key's line."""
        probe = key
        while probe:
            if probe in self.lines:
                return SweepError(key, message, self.lines[probe])
            if probe.endswith("]"):
                probe = probe[: probe.rindex("[")]
            elif "." in probe:
                probe = probe.rpartition(".")[0]
            else:
                break
        return SweepError(key, message)

    def mapping(self, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {kind_of(value)}")
        return value

    def known(self, key: str, value: dict, allowed: tuple[str, ...]) -> None:
        for name in value:
            if name not in allowed:
                full = f"{key}.{name}" if key else str(name)
                raise self.error(full, f"unknown key; expected one of {', '.join(allowed)}")

    def whole(self, key: str, value: Any, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {value!r}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
        return value

    def positive(self, key: str, value: Any, maximum: float = MAX_TIMEOUT_S) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
            raise self.error(key, f"expected a positive number of at most {maximum:g}, got {value!r}")
        return float(value)

    def flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def product(self, key: str, choices: dict[str, list]) -> list[dict]:
        """Every combination of ``choices``, refused before it is built when there are more than MAX_RUNS."""
        count = math.prod(len(values) for values in choices.values())
        if count > MAX_RUNS:
            raise self.error(key, f"its lists combine into {count} settings; at most {MAX_RUNS}")
        return product_of(choices)

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def url_list(self, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(key, "expected a non-empty list of URL paths")
        urls = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.startswith("/"):
                raise self.error(f"{key}[{index}]", f"expected a URL path starting with '/', got {item!r}")
            urls.append(item)
        return tuple(urls)

    def swept(self, key: str, value: Any, check) -> list:
        """A scalar, or a list swept as alternatives; each element checked."""
        if isinstance(value, list):
            if not value:
                raise self.error(key, "an empty list sweeps nothing")
            return [check(f"{key}[{i}]", item) for i, item in enumerate(value)]
        return [check(key, value)]


def kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def product_of(choices: dict[str, list]) -> list[dict]:
    names = list(choices)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(choices[n] for n in names))]
