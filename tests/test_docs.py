"""README and the docs site keep working: the site builds strictly, every shell command and sweep they show is
exercised, and the column reference says what experiments/columns.py says.

Commands (```sh blocks): every `make` target must exist; `run-experiments` on a sweep the repository ships is run
with `--dry-run` (however long the sweep); a `.venv/bin/` tool is run as written when it is cheap (`--dry-run`,
or a `--profile minimal` project, in a temporary directory); any other command's options must be in its
`--help`. Sweeps (```yaml blocks) parse with experiments.sweep.parse_sweep, the directories and interpreter
they name standing in for the reader's own; a block that opens with `# experiments/sweeps/NAME.yaml` must show
that file as it is.

`python tests/test_docs.py --write` rewrites the generated tables of docs/columns.md from the registry.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from runner_support import stand_in_python

from experiments.columns import COLUMNS, IDENTITY, TIMELINE_COLUMNS, Column
from experiments.sweep import parse_sweep

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
COLUMNS_PAGE = DOCS / "columns.md"


def pages() -> list[Path]:
    """README and every page of docs/, not what docs/results links to (the committed results)."""
    found = [path for path in sorted(DOCS.rglob("*.md")) if not _under_symlink(path)]
    return [ROOT / "README.md", *found]


def _under_symlink(path: Path) -> bool:
    return any(parent.is_symlink() for parent in path.relative_to(DOCS).parents if parent != Path("."))


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def commands(page: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for block in blocks(page, "sh") for line in block.splitlines()]
    return [line for line in lines if line]


def every(kind) -> list:
    """(page, item) for every page, with an id a person can read: the page and the item's first line."""
    return [
        pytest.param(page, item, id=f"{_name(page)}: {item.splitlines()[0][:60]}")
        for page in pages()
        for item in kind(page)
    ]


def sweeps(page: Path) -> list[str]:
    return blocks(page, "yaml")


# --------------------------------------------------------------------------------------------- commands


def test_every_shell_block_is_one_the_tests_read():
    """A block marked bash, shell or console would escape the checks below."""
    for page in pages():
        other = re.findall(r"^```(bash|shell|console|shell-session|zsh)\b", page.read_text(), flags=re.M)
        assert other == [], f"{_name(page)}: write ```sh blocks"


@pytest.mark.parametrize("page, command", every(commands))
def test_every_make_target_exists(page, command):
    if command.startswith("make "):
        makefile = (ROOT / "Makefile").read_text()
        assert re.search(rf"^{command.split()[1]}:", makefile, flags=re.M), command


@pytest.mark.parametrize(
    "page, command", [p for p in every(commands) if p.values[1].startswith(".venv/bin/")]
)
def test_tool_commands(page, command, tmp_path):
    argv = shlex.split(command.split("&&")[0])
    tool = BIN / Path(argv[0]).name
    assert tool.exists(), argv[0]
    shipped = [a for a in argv[1:] if a.startswith("experiments/sweeps/")]
    if tool.name.startswith("python"):
        _python_command(argv)
    elif argv[1:2] == ["advise"]:
        _advise_command(argv)
    elif tool.name == "run-experiments" and shipped:
        # A sweep the repository ships, however long: its plan (sweep paths are relative to the repository).
        assert (ROOT / shipped[0]).is_file(), shipped[0]
        dry = argv[1:] if "--dry-run" in argv else [*argv[1:], "--dry-run"]
        result = subprocess.run([str(tool), *dry], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    elif "--dry-run" in argv or ("--profile" in argv and "minimal" in argv):
        # Cheap as written: run it.
        cwd = ROOT if "--dry-run" in argv else tmp_path
        result = subprocess.run([str(tool), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    else:
        result = subprocess.run([str(tool), "--help"], capture_output=True, text=True)
        assert result.returncode == 0
        for option in (a for a in argv[1:] if a.startswith("--")):
            assert option in result.stdout, f"{option} is not an option of {argv[0]}"
    shutil.rmtree(tmp_path / "generated", ignore_errors=True)


def _advise_command(argv: list[str]) -> None:
    """``run-experiments advise PROJECT …``: on the tiny fixture project, its plan (--dry-run runs nothing);
    otherwise each option is in its --help."""
    tool = BIN / Path(argv[0]).name
    if "--dry-run" in argv:
        project = str(ROOT / "tests" / "fixtures" / "tinyproject")
        arguments = [project if a == "path/to/myproject" else a for a in argv[2:]]
        result = subprocess.run(
            [str(tool), "advise", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return
    result = subprocess.run([str(tool), "advise", "--help"], capture_output=True, text=True)
    for option in (a.partition("=")[0] for a in argv[2:] if a.startswith("--")):
        assert option in result.stdout, f"{option} is not an option of run-experiments advise"


def _python_command(argv: list[str]) -> None:
    """``python -m MODULE --opt …``: each option is in the module's --help; ``python script.py``: it exists."""
    if argv[1] == "-m":
        result = subprocess.run(
            [sys.executable, "-m", argv[2], "--help"], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        for option in (a for a in argv[3:] if a.startswith("--")):
            assert option in result.stdout, f"{option} is not an option of {argv[2]}"
    else:
        assert (ROOT / argv[1]).is_file(), argv[1]


# --------------------------------------------------------------------------------------------- sweeps


def _stand_in_for_what_it_names(data, base_dir: Path, monkeypatch) -> None:
    """The reader's own project directories and interpreters, made empty under ``base_dir``; the versions of
    the python axis, as stand-ins in a pyenv of their own."""
    if not isinstance(data, dict):
        return
    pythons = data.get("python", [])
    for python in pythons if isinstance(pythons, list) else [pythons]:
        version = str(python)
        if re.fullmatch(r"\d+\.\d+", version):
            stand_in_python(
                base_dir / "pyenv" / "versions" / f"{version}.0" / "bin" / f"python{version}", f"{version}.0"
            )
        else:
            stand_in_python(base_dir / version, "3.12.0")
    monkeypatch.setenv("PYENV_ROOT", str(base_dir / "pyenv"))
    projects = data.get("project")
    for block in projects if isinstance(projects, list) else [projects]:
        if not isinstance(block, dict):
            continue
        for path in block.get("path", []) if isinstance(block.get("path"), list) else [block.get("path")]:
            if isinstance(path, str):
                assert not Path(path).is_absolute(), f"{path}: write a path relative to the sweep file"
                (base_dir / path).mkdir(parents=True, exist_ok=True)
        if isinstance(block.get("python"), str):
            python = base_dir / block["python"]
            python.parent.mkdir(parents=True, exist_ok=True)
            python.write_text("#!/bin/sh\n")
            python.chmod(0o755)


@pytest.mark.parametrize("page, text", every(sweeps))
def test_every_sweep_example_parses(page, text, tmp_path, monkeypatch):
    base_dir = tmp_path / "sweeps"
    base_dir.mkdir()
    _stand_in_for_what_it_names(yaml.safe_load(text), base_dir, monkeypatch)
    sweep = parse_sweep(text, base_dir=base_dir)
    assert sweep.projects and sweep.servers


@pytest.mark.parametrize("page, text", every(sweeps))
def test_a_sweep_shown_as_a_shipped_file_is_that_file(page, text):
    first = text.splitlines()[0]
    shipped = re.fullmatch(r"# (experiments/sweeps/[\w.-]+\.yaml)", first)
    if shipped:
        assert text == (ROOT / shipped.group(1)).read_text(), (
            f"{_name(page)} shows {shipped.group(1)} otherwise"
        )


# --------------------------------------------------------------------------------------------- the site


def test_the_site_builds_strictly(tmp_path):
    """Broken links and anchors, and pages missing from the nav, fail the build (mkdocs.yml's validation); it is
    built into a temporary directory, never into the tree."""
    in_tree = (ROOT / "site").exists()
    result = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
        + ["--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (ROOT / "site").exists() == in_tree


# --------------------------------------------------------------------------------------------- columns

GENERATED = {
    "COLUMNS": "<!-- generated from experiments/columns.py COLUMNS: do not edit by hand -->",
    "IDENTITY": "<!-- generated from experiments/columns.py IDENTITY: do not edit by hand -->",
    "TIMELINE_COLUMNS": "<!-- generated from experiments/columns.py TIMELINE_COLUMNS: do not edit by hand -->",
}
END = re.compile(r"<!-- end of generated (table|list) -->")


def _table(columns: tuple[Column, ...]) -> str:
    lines = ["| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
    for column in columns:
        unit = column.unit or ""
        lines.append(f"| `{column.name}` | {column.type.__name__} | {unit} | {column.description} |")
    return "\n".join(lines)


def expected_blocks() -> dict[str, str]:
    return {
        "COLUMNS": _table(COLUMNS),
        "IDENTITY": ", ".join(f"`{name}`" for name in IDENTITY),
        "TIMELINE_COLUMNS": _table(TIMELINE_COLUMNS),
    }


def generated_blocks(text: str) -> dict[str, str]:
    found = {}
    for name, marker in GENERATED.items():
        start = text.index(marker) + len(marker)
        end = END.search(text, start)
        found[name] = text[start : end.start()].strip("\n")
    return found


def write_generated(text: str) -> str:
    for name, block in expected_blocks().items():
        marker = GENERATED[name]
        start = text.index(marker) + len(marker)
        end = END.search(text, start)
        text = text[:start] + "\n\n" + block + "\n\n" + text[end.start() :]
    return text


def test_the_column_reference_is_the_registry():
    found = generated_blocks(COLUMNS_PAGE.read_text())
    for name, block in expected_blocks().items():
        assert found[name] == block, (
            f"docs/columns.md: {name} differs from experiments/columns.py; "
            "run `.venv/bin/python tests/test_docs.py --write`"
        )


def test_every_registry_column_is_documented():
    text = COLUMNS_PAGE.read_text()
    missing = [c.name for c in (*COLUMNS, *TIMELINE_COLUMNS) if f"| `{c.name}` |" not in text]
    assert missing == []


# --------------------------------------------------------------------------------------------- sweep keys


def test_every_sweep_key_is_in_the_sweep_reference():
    """Each key experiments/sweep.py accepts has a row in docs/sweep.md; a generated project's options are named."""
    from experiments import sweep
    from generator.options import OPTION_NAMES

    text = (DOCS / "sweep.md").read_text()
    keys = (
        *sweep.TOP_KEYS,
        *sweep.SERVER_KEYS,
        *sweep.TRAFFIC_KEYS,
        *sweep.PROBE_KEYS,
        *sweep.LAUNCHER_KEYS,
        *sweep.EXISTING_KEYS,
        *sweep.DATABASE_KEYS,
    )
    missing = [key for key in keys if f"| `{key}` |" not in text]
    missing += [name for name in OPTION_NAMES if f"`{name}`" not in text]
    assert missing == [], f"docs/sweep.md does not document {missing}"


@pytest.mark.parametrize(
    "tool, page",
    [
        ("gen-project", "gen-project.md"),
        ("run-experiments", "sweep.md"),
        ("run-experiments advise", "advise.md"),
        ("analyze-results", "analyze-results.md"),
    ],
)
def test_every_option_of_a_tool_is_in_its_reference(tool, page):
    program, *command = tool.split()
    result = subprocess.run([str(BIN / program), *command, "--help"], capture_output=True, text=True)
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}
    text = (DOCS / page).read_text()
    missing = sorted(option for option in options if f"`{option}" not in text)
    assert missing == [], f"docs/{page} does not document {missing}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(
            "usage: python tests/test_docs.py --write   (rewrites the generated tables of docs/columns.md)"
        )
    COLUMNS_PAGE.write_text(write_generated(COLUMNS_PAGE.read_text()))
