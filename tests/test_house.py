"""The house rules of generator/ and experiments/: no import cycle, no long function, no long file.

Read with `ast` only: nothing here imports the code it checks. The standalone files copied into run directories
(the wrapper, the servers' adapters, the probe's child) are code like any other and count too; templates (*.j2)
are not Python and are not read.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("generator", "experiments")
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400


def _python_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(body: list[ast.stmt], deferred: bool):
    """The statements that run when the module is imported: the module's body, into `if` (except the branch
    taken only under TYPE_CHECKING, which never runs), `try`, `with` and class bodies. With ``deferred``, also
    those of functions (imports made on first call, which close a cycle as surely, only later)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _statements(node.body, deferred)
            yield from _statements(node.orelse, deferred)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _statements(block, deferred)
        elif isinstance(node, ast.With | ast.ClassDef) or (
            deferred and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ):
            yield from _statements(node.body, deferred)
        elif deferred and isinstance(node, ast.For | ast.While | ast.AsyncFor | ast.AsyncWith):
            yield from _statements([*node.body, *node.orelse], deferred)


def _imported_modules(
    module: str, is_package: bool, tree: ast.Module, known: set[str], deferred: bool = False
) -> set[str]:
    """The modules of `known` that `module` imports (at import time; with ``deferred``, in its functions too).
    `from package import name` is an edge to the submodule when `name` is one, else to the package itself."""
    found: set[str] = set()
    for node in _statements(tree.body, deferred):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return found & known


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    files = {_module_name(path): path for path in _python_files()}
    known = set(files)
    return {
        module: _imported_modules(
            module, path.name == "__init__.py", ast.parse(path.read_text()), known, deferred
        )
        for module, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, …, a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def long_functions() -> list[str]:
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # from `def` on: decorators excluded
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}: {node.name}() is {length} lines")
    return found


def long_files() -> list[str]:
    found = []
    for path in _python_files():
        length = len(path.read_text().splitlines())
        if length > MAX_FILE_LINES:
            found.append(f"{path.relative_to(ROOT)} is {length} lines")
    return found


def test_the_checker_finds_a_cycle_and_skips_type_checking_imports():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "if TYPE_CHECKING:\n    from pkg import c\n"
        "def f():\n    import pkg.c\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    assert _imported_modules("pkg.a", False, tree, known) == {"pkg.b"}
    assert _imported_modules("pkg.a", False, tree, known, deferred=True) == {"pkg.b", "pkg.c"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_files_read_include_the_standalone_copies():
    names = {str(path.relative_to(ROOT)) for path in _python_files()}
    assert {"experiments/measure/wrapper.py", "generator/probe_child.py"} <= names
    assert "experiments/servers/gunicorn_config.py" in names


def test_no_import_cycle_at_import_time():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_no_import_cycle_through_imports_deferred_into_functions():
    """An import moved into a function to dodge a cycle still closes it: a module that needs another on call
    must not be needed by it."""
    cycle = find_cycle(import_graph(deferred=True))
    assert cycle is None, "import cycle (through a deferred import): " + " → ".join(cycle)


@pytest.mark.parametrize("check, limit", [(long_functions, MAX_FUNCTION_LINES), (long_files, MAX_FILE_LINES)])
def test_nothing_too_long(check, limit):
    found = check()
    assert not found, f"over {limit} lines:\n" + "\n".join(found)
