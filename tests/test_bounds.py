"""Sizes past any sane use, and YAML that expands, are one line naming the option or key, at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from runner_support import REPO

from experiments.errors import SweepError
from experiments.sweep import parse_sweep

BIN = Path(sys.executable).parent


def run_tool(tool: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The console script, bounded in time: before the bounds, some of these ran for hours or out of memory."""
    return subprocess.run(
        [str(BIN / tool), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--models", "1000000000"], "--models"),
        (["--models", "10", "--apps", "1000000000"], "--apps"),
        (["--models", "10", "--rows-per-model", "1000000"], "--rows-per-model"),
        (["--models", "20000", "--rows-per-model", "1000"], "--rows-per-model"),  # 20 M rows in all
    ],
)
def test_gen_project_upper_bounds(tmp_path, argv, option):
    done = run_tool("gen-project", [*argv, "--no-db", "--output", str(tmp_path / "out")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: {option}: ") and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def parse(text: str):
    return parse_sweep(text, base_dir=REPO, default_name="t")


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("repetitions: 1000000000\nproject: {models: 3}\n", "repetitions", 1),
        ("project: {models: 3}\nserver: {workers: [2, 100000]}\n", "server.workers[1]", 2),
        ("project: {models: 3}\nserver: {max_fd: 100000000}\n", "server.max_fd", 2),
        (
            "project: {models: 3}\ntraffic: {requests_per_worker: 1000000000}\n",
            "traffic.requests_per_worker",
            2,
        ),
        ("warmup_runs: 1000000\nproject: {models: 3}\n", "warmup_runs", 1),
        ("project: {models: 3}\nserver: {timeout: 1.0e+300}\n", "server.timeout", 2),
        ("project: {models: 100000}\n", "project.models", 1),
        ("project: {models: 30, rows_per_model: 100000}\n", "project.rows_per_model", 1),
    ],
)
def test_sweep_upper_bounds_name_the_key(text, key, line):
    with pytest.raises(SweepError) as caught:
        parse(text)
    assert (caught.value.key, caught.value.line) == (key, line)


def test_a_plan_too_large_is_refused_before_it_is_built():
    models = list(range(1, 41))
    text = (
        f"repetitions: 1000\nproject: {{models: {models}}}\n"
        "server: {workers: [1, 2, 3], modes: [lazy, prefork, prewarm, prewarm-freeze]}\n"
    )
    with pytest.raises(SweepError, match=r"480000 runs = 40 projects .* at most 100000 per sweep"):
        parse(text)
    lists = ", ".join(f"E{i}: [a, b, c, d]" for i in range(12))  # 4**12 environments
    with pytest.raises(SweepError) as caught:
        parse(f"project: {{path: tests/fixtures/tinyproject, wsgi: a.b, env: {{{lists}}}}}\n")
    assert caught.value.key == "project.env" and "16777216 settings" in str(caught.value)


def test_a_huge_dry_run_answers_at_once(tmp_path):
    sweep = tmp_path / "big.yaml"
    sweep.write_text("repetitions: 1000000000\nproject: {models: 3}\n")
    done = run_tool("run-experiments", [str(sweep), "--dry-run"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == "Error: repetitions (line 1): must be at most 1000, got 1000000000\n"


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("project: &p {models: 3}\nname: *p\n", "name", 2),  # a plain alias
        ("project:\n  models: 3\n  urls: &u [/a, *u]\n", "project.urls[1]", 3),  # a recursive anchor
        ("project:\n  <<: &base {models: 3}\n  seed: *base\n", "project.seed", 3),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nproject: [*c, *c, *c, *c, *c, *c, *c]\n",
            "b[0]",
            2,
        ),  # anchors multiplied by aliases ("billion laughs")
    ],
)
def test_yaml_aliases_are_refused_naming_the_key(text, key, line):
    with pytest.raises(SweepError) as caught:
        parse(text)
    assert (caught.value.key, caught.value.line) == (key, line)
    assert "aliases" in str(caught.value)


@pytest.mark.parametrize("depth", [30, 5000])
def test_deep_nesting_is_refused(depth):
    with pytest.raises(SweepError, match="nested more than 20 levels deep"):
        parse("project: " + "[" * depth + "]" * depth + "\n")
