"""The sweep's YAML with the line of every key, for errors that say where: aliases and deep nesting refused
before anything is constructed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from experiments.errors import SweepError
from experiments.sweep.keys import MAX_DEPTH


@dataclass
class Places:
    """Where each key of the sweep is: its line, and each scalar's text as written (``3.10`` is 3.1 as a
    number, but a version as written)."""

    lines: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def _collect_lines(node: yaml.Node, prefix: str, places: Places, used: set[int], line: int) -> None:
    """Record the line of every key; refuse aliases and deep nesting (both before anything is constructed).

    An alias is the anchored node itself, reused: a node met twice is one (a recursive anchor would make the
    walk endless, and anchors multiplied by aliases a huge document). ``line`` is where ``node`` is used.
    """
    if id(node) in used:
        raise SweepError(
            prefix or "sweep", "YAML aliases (*name) are not supported; write the value out", line
        )
    used.add(id(node))
    if prefix.count(".") + prefix.count("[") >= MAX_DEPTH:
        raise SweepError(prefix, f"nested more than {MAX_DEPTH} levels deep", line)
    lines = places.lines
    if isinstance(node, yaml.ScalarNode):
        places.texts[prefix] = node.value
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            key = f"{prefix}.{name}" if prefix else name
            if name in seen:
                raise SweepError(key, "duplicate key", key_node.start_mark.line + 1)
            seen.add(name)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, places, used, lines[key])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{prefix}[{index}]"
            # an alias's node carries its anchor's position: the sequence's own line is the honest one then
            lines[key] = line if id(item) in used else item.start_mark.line + 1
            _collect_lines(item, key, places, used, lines[key])


def load_yaml(text: str) -> tuple[Any, Places]:
    loader = yaml.SafeLoader(text)
    places = Places()
    try:
        node = loader.get_single_node()
        if node is None:
            return None, places
        _collect_lines(node, "", places, set(), node.start_mark.line + 1)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SweepError("yaml", problem, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SweepError("yaml", str(exc).splitlines()[0]) from None
    except RecursionError:  # the parser itself recurses: thousands of nested brackets
        raise SweepError("yaml", f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return data, places


# --------------------------------------------------------------------------- validation helpers
