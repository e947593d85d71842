"""What a model costs at start-up: least-squares lines per app, across sizes and across projects, on made-up rows."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.analysis.scale import finding_lines, per_app_lines, report_lines
from experiments.analysis.scale_fit import (
    LISTED_APPS,
    AppPoint,
    Line,
    across_projects,
    app_points,
    fit_line,
    loading_processes,
    per_app,
    real_figures,
    sweep_lines,
    sweep_sizes,
)
from experiments.measure import phases

REPO = Path(__file__).resolve().parent.parent


def test_a_line_needs_three_distinct_sizes_and_fits_them_by_least_squares():
    line = fit_line([(1, 5.0), (2, 8.0), (4, 14.0)])  # y = 2 + 3x
    assert (line.slope, line.intercept, line.points, line.r2) == pytest.approx((3.0, 2.0, 3, 1.0))
    assert line.at(10) == pytest.approx(32.0)
    assert fit_line([(1, 5.0), (2, 8.0)]) is None  # two points fit any line
    assert fit_line([(1, 5.0), (1, 6.0), (1, 7.0)]) is None
    noisy = fit_line([(0, 0.0), (1, 2.0), (2, 1.0), (3, 3.0)])
    assert noisy.slope == pytest.approx(0.8) and noisy.r2 == pytest.approx(0.64)
    assert math.isnan(fit_line([(1, 2.0), (2, 2.0), (3, 2.0)]).r2)  # flat: r² undefined, the slope 0
    assert fit_line([(1, 2.0), (2, 2.0), (3, 2.0)]).slope == 0


def _apps(**costs: float) -> dict[str, dict]:
    """A process's per-app phases: import 1 ms, models the rest, ready 0."""
    return {
        label: {"import_s": 0.001, "models_s": cost - 0.001, "ready_s": 0.0, "modules": 3}
        for label, cost in costs.items()
    }


def test_only_a_master_that_loaded_alone_in_a_successful_run_counts():
    rows = [
        {"run_id": "a", "project": "shop", "status": "ok"},
        {"run_id": "b", "project": "shop", "status": "ok"},
        {"run_id": "c", "project": "shop", "status": "failed"},
        {"run_id": "d", "project": "shop-twin", "status": "ok"},
    ]
    details = {
        "a": {"loaded_in": "master", "startup_phases": {"1": {"apps": _apps(x=0.01)}}},
        "b": {
            "loaded_in": "worker",
            "startup_phases": {"2": {"apps": _apps(x=0.5)}, "3": {"apps": _apps(x=0.6)}},
        },
        "c": {"loaded_in": "master", "startup_phases": {"4": {"apps": _apps(x=0.7)}}},
        "d": {"loaded_in": "master", "startup_phases": {"5": {"apps": _apps(x=0.8)}}},
    }
    assert loading_processes(rows, details, "shop") == [_apps(x=0.01)]


def test_an_app_left_out_of_a_full_list_counts_at_that_lists_fastest():
    full = _apps(**{f"a{i}": 0.010 + i * 0.001 for i in range(LISTED_APPS)})  # fastest: a0, 10 ms
    short = _apps(big=0.050, small=0.002)  # every app of a small project is listed
    processes = [full, _apps(**{**{f"a{i}": 0.02 for i in range(LISTED_APPS - 1)}, "small": 0.004}), short]
    points = {p.label: p for p in app_points(processes, {"small": 1, "a3": 2, "missing": 5})}
    # small: left out of the first full list (10 ms), listed at 4 and 2 ms: median 4 ms.
    assert points["small"].seconds == pytest.approx(0.004) and points["small"].listed == 2
    # a3: 13 ms, then 20 ms; the short list is not full, so its absence says nothing.
    assert points["a3"].seconds == pytest.approx(0.0165) and points["a3"].processes == 3
    assert points["missing"].listed == 0 and points["missing"].seconds == pytest.approx((0.010 + 0.004) / 2)


def test_per_app_fits_seconds_against_models_and_names_the_largest_app():
    points = [AppPoint(f"app{m}", m, 0.005 + 0.002 * m, 3 if m else 2, 3) for m in (0, 1, 4, 10)]
    row = per_app("shop", points)
    assert row["line"].slope == pytest.approx(0.002) and row["line"].intercept == pytest.approx(0.005)
    assert (row["models"], row["apps"], row["always_listed"], row["largest"]) == (15, 4, 3, "app10 (10)")
    line = per_app_lines([row])[-1]
    assert line.startswith("| shop | 15 | 4 (3) | app10 (10) | 0.05 s | 2.00 ms | 5.00 ms | 1.00 |")


def _sweep_row(models: int, mode: str = "prefork", workers: int = 1, status: str = "ok", scale: float = 1.0):
    return {
        "models": models,
        "mode": mode,
        "workers": workers,
        "status": status,
        "startup_s": scale * (0.5 + 0.003 * models),
        "phase_apps_import_s": 0.01,
        "phase_models_s": scale * 0.002 * models,
        "memory_ready_mb": 100 + 0.1 * models,
    }


def test_the_generators_sizes_are_medians_of_one_mode_and_worker_count_then_a_line():
    rows = [_sweep_row(m, scale=s) for m in (30, 300, 3000) for s in (0.9, 1.0, 1.1)]
    rows += [
        _sweep_row(30, "lazy", scale=9),
        _sweep_row(30, workers=4, scale=9),
        _sweep_row(30, status="failed", scale=9),
    ]
    sizes = sweep_sizes(rows, "prefork", 1)
    assert list(sizes) == [30, 300, 3000]
    assert sizes[300]["startup_s"] == pytest.approx(1.4)
    assert sizes[300]["phase_apps_import_s+phase_models_s"] == pytest.approx(0.61)
    lines = sweep_lines(sizes)
    assert lines["startup_s"].slope == pytest.approx(0.003)
    assert lines["memory_ready_mb"].slope == pytest.approx(0.1)


def _profile(own_models: int, load_s: float, load_mb: float, lines: int) -> dict:
    modes = [
        {"mode": m, "load_s": load_s * (m == "prefork"), "load_mb": load_mb} for m in ("lazy", "prefork")
    ]
    return {"own_models": own_models, "modes": modes, "setup": {"other_lines": lines}}


def test_across_projects_start_up_is_read_from_the_prefork_masters_load():
    figures = {
        name: real_figures(_profile(models, 0.1 + 0.01 * models, 20 + models, 1000 * models))
        for name, models in (("wiki", 20), ("shop", 80), ("tickets", 120))
    }
    assert figures["shop"] == pytest.approx(
        {"own_models": 80, "load_s": 0.9, "load_mb": 100, "library_lines": 80_000}
    )
    lines = across_projects(figures)
    assert lines["load_s"].slope == pytest.approx(0.01) and lines["load_mb"].slope == pytest.approx(1.0)
    assert lines["library_lines"].slope == pytest.approx(1000)


def _findings(generator_app_slopes: list[float], r2: float) -> list[str]:
    real = [
        per_app(n, [AppPoint(f"a{m}", m, s * m + 0.01, 1, 1) for m in (1, 5, 9)])
        for n, s in (("wiki", 0.001), ("shop", 0.004))
    ]
    generator_apps = []
    for slope in generator_app_slopes:
        row = per_app("gen", [AppPoint(f"g{m}", m, slope * m + 0.02, 1, 1) for m in (5, 10, 15)])
        generator_apps.append({**row, "line": Line(slope, 0.02, 3, r2)})
    sizes = {
        m: {
            "startup_s": 0.003 * m,
            "phase_apps_import_s+phase_models_s": 0.002 * m,
            "memory_ready_mb": 100 + 0.1 * m,
        }
        for m in (30, 300, 3000)
    }
    figures = {
        n: real_figures(_profile(m, 0.02 * m, 1.0 * m + 10, 2000 * m))
        for n, m in (("wiki", 20), ("shop", 80), ("tickets", 120))
    }
    setting = {"library_loc": 300_000, "sizes": list(sizes)}
    return finding_lines(real, generator_apps, sweep_lines(sizes), across_projects(figures), figures, setting)


def test_the_findings_are_computed_from_the_figures():
    missed = _findings([0.0005, 0.0008], r2=0.05)
    assert missed[0].startswith(
        "- **The generator at a fixed library weight** (300,000 lines): each model adds "
        "2.00 ms to its apps' import + models (r² 1.00) and 0.100 MB"
    )
    # 2 ms per model, between the wiki's 1 ms and the shop's 4 ms per app.
    assert "would rank 2 of 3 among them, between wiki and shop" in missed[1]
    assert "0.50 ms to 0.80 ms over its sizes" in missed[1] and "it misses that cost" in missed[1]
    assert "it finds that cost" in _findings([0.0015, 0.0025], r2=0.9)[1]
    assert "it misses that cost" in _findings([0.0015, 0.0025], r2=0.1)[1]
    # Real: 20 ms and 1 MB per own model; the generator 2 ms and 0.1 MB: 10× each; 2,000 lines per own model.
    across = missed[3]
    assert "start-up grows 20.00 ms and 1.000 MB per own model" in across and "10.0× and 10.0×" in across
    assert "2,000 lines per own model" in across and "10,000 per model at 30 models, 100 at 3,000" in across
    assert "that line gives 600,000 lines at 300 models" in across
    assert "(1.08–1.50 MB, Django and the libraries included)" in missed[2] and "11× or more" in missed[2]


def test_the_wrapper_lists_as_many_apps_as_the_analysis_expects(monkeypatch):
    monkeypatch.setattr(
        phases,
        "_apps",
        {f"a{i}": {"import_s": i, "models_s": 0, "ready_s": 0, "modules": 1} for i in range(LISTED_APPS + 5)},
    )
    listed = phases.startup_report(1.0)["apps"]
    assert len(listed) == LISTED_APPS and min(figures["import_s"] for figures in listed.values()) == 5


def test_a_report_without_counted_apps_is_an_error_naming_the_script(tmp_path):
    (tmp_path / "probes.json").write_text(json.dumps({"shop": {"real": _profile(10, 0.2, 30, 1000)}}))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.analysis.scale",
            "--real",
            str(tmp_path),
            "--sweep",
            "results/scaling.csv",
            "--sweep-file",
            "experiments/sweeps/scaling.yaml",
            "--out",
            str(tmp_path / "scale.md"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 2 and "run calibration/count_apps.py shop" in done.stderr
    assert not (tmp_path / "scale.md").exists()


def test_the_committed_report_regenerates_from_the_committed_results(tmp_path):
    argv = [
        "--real",
        "results/calibration",
        "--sweep",
        "results/scaling.csv",
        "--sweep-file",
        "experiments/sweeps/scaling.yaml",
        "--out",
        str(tmp_path / "scale.md"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "experiments.analysis.scale", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scale.md").read_text() == (REPO / "results" / "calibration" / "scale.md").read_text()


def test_a_report_without_figures_draws_no_conclusion():
    lines = report_lines(
        [], [], {}, {}, {"sources": ["here"], "library_loc": 1, "mode": "prefork", "workers": 4}
    )
    assert "- here" in lines and "The scaling sweep, prefork with 4 workers, median per size." in lines
    assert lines[-2:] == ["## What it shows", ""]
