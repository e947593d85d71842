"""Long traffic on real servers: concurrent clients, memory sampled over requests into the timeline, and
workers recycled by uWSGI and gunicorn (each recycle paired, timed and measured; nothing outlives the run)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from runner_support import processes_with, tiny_project, write_sweep

from experiments.columns import TIMELINE_NAMES
from experiments.measure.executor import ServerExecutor
from experiments.measure.memory import read_process
from experiments.runner import run_sweep
from experiments.sweep import load_sweep

pytestmark = pytest.mark.slow


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def sweep_of(tmp_path: Path, server: dict, traffic: dict):
    return load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "day",
                "warmup_runs": 0,
                "project": tiny_project(),
                "server": {"workers": 2, **server},
                "traffic": {"steady_state": False, **traffic},
            },
        )
    )


@pytest.mark.parametrize("backend", ["uwsgi", "gunicorn"])
def test_sampled_traffic_writes_a_tidy_timeline(tmp_path, run_dirs, backend):
    sweep = sweep_of(
        tmp_path,
        {"backend": backend, "modes": ["prewarm"]},
        {"requests_per_worker": 300, "sample_every": 100, "clients": 3},
    )
    outcome = run_sweep(sweep, ServerExecutor())
    (row,) = rows(sweep.output)
    assert outcome.failed == 0, row["error"]
    assert row["clients"] == "3" and row["requests_per_worker"] == "300" and row["recycling"] == "off"
    assert row["requests_failed"] == "0" and float(row["requests_per_s"]) > 0
    assert float(row["latency_p99_ms"]) >= float(row["latency_p50_ms"]) > 0
    timeline = rows(Path(f"{sweep.output}.timeline.csv"))
    assert list(timeline[0]) == list(TIMELINE_NAMES)
    assert {line["run_id"] for line in timeline} == {row["run_id"]}
    assert {line["started_at"] for line in timeline} == {row["started_at"]}
    samples = sorted({int(line["requests"]) for line in timeline})
    # before the traffic, every 200 answers (100 per worker), and after it
    assert samples[0] == 0 and samples[-1] == 600 and len(samples) >= 4, samples
    for count in samples:
        at = [line for line in timeline if int(line["requests"]) == count]
        assert sorted(line["process"] for line in at) == ["master", "worker", "worker"]
        assert all(float(line["pss_mb"]) > 0 and float(line["uss_mb"]) > 0 for line in at)
    last = [line for line in timeline if int(line["requests"]) == 600 and line["process"] == "worker"]
    assert sum(int(line["worker_requests"]) for line in last) == 600
    assert all(line["gen2"] != "" and int(line["gen0"]) >= int(line["gen2"]) for line in last)
    peak = max(sum(float(x["pss_mb"]) for x in timeline if x["requests"] == str(n)) for n in samples)
    assert float(row["memory_peak_mb"]) == pytest.approx(max(peak, float(row["memory_mb"])), rel=1e-3)
    details = json.loads(Path(f"{sweep.output}.details.jsonl").read_text().splitlines()[0])
    assert "timeline" not in details  # written once, to the timeline


@pytest.mark.parametrize(
    "backend, server, requests",
    [
        ("gunicorn", {"max_requests": 60, "max_requests_jitter": 10}, 600),
        # uWSGI keeps a worker at least min-worker-lifetime seconds (10 by default): 0 lets a short test recycle
        # as often as max_requests says (1 s made it serve 3,000 requests a worker to see a few recycles)
        ("uwsgi", {"max_requests": 150, "min_worker_lifetime": 0}, 600),
    ],
)
@pytest.mark.parametrize("mode", ["lazy", "prewarm"])
def test_recycled_workers_are_tracked_and_none_outlives_the_run(
    tmp_path, run_dirs, backend, server, requests, mode
):
    sweep = sweep_of(
        tmp_path,
        {"backend": backend, "modes": [mode], **server},
        {"requests_per_worker": requests, "sample_every": requests // 4, "steady_state": True},
    )
    seen: dict = {}
    outcome = run_sweep(sweep, ServerExecutor(), on_run=lambda run, m: seen.update(m.details))
    (row,) = rows(sweep.output)
    assert outcome.failed == 0, row["error"]
    assert row["recycling"].startswith(f"max_requests {server['max_requests']}")
    recycles = seen["recycles"]
    assert int(row["recycles"]) == len(recycles) >= 2
    assert row["requests_failed"] == "0"  # the listening socket is the master's: nothing is dropped
    for recycle in recycles:
        assert recycle["new_pid"] not in (None, recycle["old_pid"])
        assert recycle["requests"] >= server["max_requests"]
        assert recycle["unavailable_ms"] > 0 and recycle["uss_mb"] > 0
    assert float(row["recycle_unavailable_ms_mean"]) > 0 and float(row["recycle_worker_uss_mb_mean"]) > 0
    assert float(row["recycle_first_request_ms_mean"]) > 0
    # the workers serving at the end are replacements, read at steady state like the first ones
    assert float(row["memory_steady_mb"]) > 0
    pids = {r["old_pid"] for r in recycles} | {r["new_pid"] for r in recycles}
    for pid in pids:
        with pytest.raises(OSError):
            read_process(pid)
    assert processes_with(str(tmp_path)) == []
    timeline = rows(Path(f"{sweep.output}.timeline.csv"))
    assert {int(line["pid"]) for line in timeline if line["process"] == "worker"} & {
        r["new_pid"] for r in recycles
    }, "the replacements are sampled like the first workers"


def test_an_unexpected_worker_exit_fails_the_run(tmp_path, run_dirs):
    """Without recycling a worker that leaves mid-traffic is a failure, never a silent hole in the figures.
    uWSGI's reload-on-rss would recycle it; here it is the same exit, unasked for: a worker killed from outside
    is replaced by uWSGI, and the replacement starts with no retirement to pair it with."""
    import os
    import signal
    import threading

    sweep = sweep_of(
        tmp_path, {"backend": "uwsgi", "modes": ["prewarm"]}, {"requests_per_worker": 4000, "clients": 2}
    )
    killed: list[int] = []

    def kill_one_worker():
        from runner_support import wait_for

        def workers():
            found = []
            for pid in processes_with(str(run_dirs)):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                parent = int(status.split("PPid:")[1].split()[0])
                if parent in processes_with(str(run_dirs)):
                    found.append(pid)
            return found

        found = wait_for(workers, 20)
        if found:
            import time

            time.sleep(0.5)
            os.kill(found[0], signal.SIGKILL)
            killed.append(found[0])

    thread = threading.Thread(target=kill_one_worker, daemon=True)
    thread.start()
    outcome = run_sweep(sweep, ServerExecutor())
    thread.join()
    (row,) = rows(sweep.output)
    assert killed, "no worker was found to kill"
    assert outcome.failed == 1 and row["status"] == "failed"
    assert "replacing no retired worker" in row["error"] or "warm requests failed" in row["error"], row[
        "error"
    ]
