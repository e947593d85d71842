"""The sweep's YAML with the line of every key, for errors that say where: aliases and deep nesting refused
before anything is constructed."""

from __future__ import annotations

from typing import Any

import yaml

from experiments.errors import SweepError
from experiments.sweep.keys import MAX_DEPTH


def _collect_lines(node: yaml.Node, prefix: str, lines: dict[str, int], used: set[int], line: int) -> None:
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
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            key = f"{prefix}.{name}" if prefix else name
            if name in seen:
                raise SweepError(key, "duplicate key", key_node.start_mark.line + 1)
            seen.add(name)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines, used, lines[key])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{prefix}[{index}]"
            # an alias's node carries its anchor's position: the sequence's own line is the honest one then
            lines[key] = line if id(item) in used else item.start_mark.line + 1
            _collect_lines(item, key, lines, used, lines[key])


def load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    loader = yaml.SafeLoader(text)
    lines: dict[str, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        _collect_lines(node, "", lines, set(), node.start_mark.line + 1)
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
    return data, lines


# --------------------------------------------------------------------------- validation helpers
