"""Results against the expected direction get a line that says so, with the figures that explain it."""

from __future__ import annotations

from experiments.analysis.stats import analyze, load_results
from experiments.analysis.surprises import surprise_lines
from experiments.export_csv import ResultsCsv


def _rows(mode: str, repetition: int, **figures) -> dict:
    return {
        "sweep": "s",
        "run_id": f"{mode}-{repetition}",
        "repetition": repetition,
        "mode": mode,
        "workers": 4,
        "project": "p",
        "models": 30,
        "status": "ok",
        "started_at": f"t{repetition}",
        "server": "gunicorn",
        "startup_s": 1.0,
        **figures,
    }


def _analysis(tmp_path, figures: dict[str, dict]):
    path = tmp_path / "r.csv"
    results = ResultsCsv(path)
    results.prepare()
    for mode, values in figures.items():
        for repetition in (1, 2, 3):
            results.append(_rows(mode, repetition, **values))
    return analyze(load_results(path), n_resamples=50)


def test_a_preloading_mode_above_lazy_and_a_fading_prewarm_are_explained(tmp_path):
    a = _analysis(
        tmp_path,
        {
            "lazy": {"memory_mb": 331.0, "memory_steady_mb": 330.0, "first_query_ms": 900.0},
            "prefork": {
                "memory_mb": 355.0,
                "memory_steady_mb": 356.0,
                "first_query_ms": 800.0,
                "worker_gen2_collections_mean": 2.0,
                "master_pss_mb": 60.0,
            },
            "prewarm": {"memory_mb": 150.0, "memory_steady_mb": 300.0, "first_query_ms": 5.0},
            "lazy-warm": {"memory_mb": 331.0, "memory_steady_mb": 330.0, "first_query_ms": 950.0},
        },
    )
    lines = surprise_lines(a)
    assert lines[0] == "Against the expected direction:"
    text = "\n".join(lines)
    assert "- prefork holds more memory than lazy after traffic (gunicorn, p): 355 against 331 MB" in text
    assert "its master keeps the loaded app (60 MB of PSS)" in text and "ran 2.0 full collections" in text
    assert "- prewarm's saving fades (gunicorn, p): 150 MB after traffic, 300 at steady state" in text
    assert "- lazy-warm warmed up, yet its first query took 950 ms against lazy's 900" in text
    assert "prewarm holds more" not in text


def test_nothing_to_explain_says_nothing(tmp_path):
    a = _analysis(
        tmp_path,
        {
            "lazy": {"memory_mb": 331.0, "memory_steady_mb": 330.0, "first_query_ms": 900.0},
            "prewarm-freeze": {"memory_mb": 150.0, "memory_steady_mb": 151.0, "first_query_ms": 5.0},
        },
    )
    assert surprise_lines(a) == []
