"""README's commands keep working: the cheap ones are run as written, the others at least parse."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def _commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make demo", "make test"]


def test_every_make_target_in_readme_exists():
    makefile = (ROOT / "Makefile").read_text()
    for command in _commands():
        if command.startswith("make "):
            assert re.search(rf"^{command.split()[1]}:", makefile, flags=re.M), command


@pytest.mark.parametrize("command", [c for c in _commands() if c.startswith(".venv/bin/")])
def test_readme_tool_commands(command, tmp_path):
    argv = shlex.split(command.split("&&")[0])
    tool = BIN / Path(argv[0]).name
    assert tool.exists(), argv[0]
    if "--dry-run" in argv or ("--profile" in argv and "minimal" in argv):
        # Cheap as written: run it (sweep paths are relative to the repository).
        cwd = ROOT if "--dry-run" in argv else tmp_path
        result = subprocess.run([str(tool), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    else:
        result = subprocess.run([str(tool), "--help"], capture_output=True, text=True)
        assert result.returncode == 0
        for option in (a for a in argv[1:] if a.startswith("--")):
            assert option in result.stdout, f"{option} is not an option of {argv[0]}"
    shutil.rmtree(tmp_path / "generated", ignore_errors=True)


def test_every_relative_link_in_readme_exists():
    targets = re.findall(r"\]\(([^)#\s]+)\)", README)
    local = [t for t in targets if "://" not in t]
    assert local, "README links no file"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []
