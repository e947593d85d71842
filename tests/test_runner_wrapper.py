"""The WSGI wrapper outside any server (its adapter's calls made in one process), and the /proc readers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from experiments.measure.memory import cpu_seconds, read_process, read_tree
from experiments.modes import MODE_NAMES, get_mode, wrapper_environment

WRAPPER = Path(__file__).resolve().parent.parent / "experiments" / "measure" / "wrapper.py"

APP = """
import sys
calls = []
def app(environ, start_response):
    calls.append((environ["PATH_INFO"], environ["QUERY_STRING"], environ["HTTP_HOST"]))
    status = "200 OK" if environ["PATH_INFO"] != "/missing/" else "404 Not Found"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"hello"]
"""

DRIVER = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
import prefork_lab_wrapper as w
import tinyapp
full_before = gc.get_stats()[2]["collections"]
app = w.create_app()         # what the server's adapter does where it loads the app
full_in_create = gc.get_stats()[2]["collections"] - full_before
w.worker_forked()            # then, in each worker (here: the same process)
w.worker_ready()
seen = []
def start_response(status, headers, exc_info=None):
    seen.append(dict(headers))
request = {"PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": "x"}
body = app(request, start_response)
app(request, start_response)
wrong = app({**request, "HTTP_X_PREFORK_LAB_CONTROL": "not-the-token"}, start_response)
control = app({**request, "HTTP_X_PREFORK_LAB_CONTROL": "s3cret"}, lambda status, headers: None)
again = app({**request, "HTTP_X_PREFORK_LAB_CONTROL": "s3cret"}, lambda status, headers: None)
print(json.dumps({"calls": tinyapp.calls, "headers": seen, "body": b"".join(body).decode(),
                  "frozen": gc.get_freeze_count(), "gc_enabled": gc.isenabled(),
                  "full_in_create": full_in_create,
                  "control": json.loads(b"".join(control)), "again": json.loads(b"".join(again)),
                  "token_in_environ": "PREFORK_LAB_CONTROL" in __import__("os").environ}))
"""


@pytest.mark.parametrize(
    ("engine", "named"),
    [
        ("django.db.backends.postgresql", "postgresql"),
        ("django.db.backends.sqlite3", "sqlite"),
        ("django_prometheus.db.backends.postgresql", "postgresql"),
    ],
)
def test_the_database_engine_is_read_from_the_settings_without_importing_its_backend(engine, named):
    code = f"""
import sys
sys.path.insert(0, {str(WRAPPER.parent)!r})
import django
from django.conf import settings
settings.configure(DATABASES={{"default": {{"ENGINE": {engine!r}, "NAME": "x"}}}})
django.setup()
import wrapper
print(wrapper._database_engine(), {engine!r} + ".base" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [named, "False"]


def run_wrapper(tmp_path: Path, mode: str) -> tuple[dict, list[str]]:
    """The wrapper in a child process; the test plays the runner: it reads messages and releases the hold."""
    (tmp_path / "tinyapp.py").write_text(APP)
    (tmp_path / "prefork_lab_wrapper.py").write_text(WRAPPER.read_text())
    name = f"prefork-lab-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        env = {
            **os.environ,
            **wrapper_environment(mode),
            "PREFORK_LAB_APP": "tinyapp:app",
            "PREFORK_LAB_NOTIFY": "@" + name,
            "PREFORK_LAB_WARMUP": "/\n/missing/\n/search/?q=1",
            "PREFORK_LAB_HOST": "127.0.0.1:8000",
            "PREFORK_LAB_CONTROL": "s3cret",
        }
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(DRIVER), str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        messages = []
        listener.settimeout(0.2)
        try:
            while child.poll() is None or messages[-1:] != ["(end)"]:
                try:
                    message = listener.recv(65536).decode()
                except TimeoutError:
                    if child.poll() is not None:
                        break
                    continue
                messages.append(message)
                if message.startswith("collected "):
                    listener.sendto(b"release", f"\0{name}-release-{child.pid}")
            out, err = child.communicate(timeout=60)
        finally:
            child.kill()
        assert child.returncode == 0, err
    return json.loads(out), messages


@pytest.mark.parametrize("mode", MODE_NAMES)
def test_wrapper_loads_warms_collects_and_marks_responses(tmp_path, mode):
    result, messages = run_wrapper(tmp_path, mode)
    kinds = [m.split()[0] for m in messages]
    warm = get_mode(mode).warm_before_fork or get_mode(mode).warm_after_fork
    # the process ends normally, as a recycled worker does: it reports leaving, with the requests it served
    if get_mode(mode).warm_before_fork:
        assert kinds == ["loaded", "warmed", "forked", "ready", "collected", "retired"]
    elif warm:
        assert kinds == ["loaded", "forked", "warmed", "ready", "collected", "retired"]
    else:
        assert kinds == ["loaded", "forked", "ready", "collected", "retired"]
    assert (
        messages[-1].split()[-1] == "3"
    )  # two requests and the one with a wrong token: not the control ones
    assert messages[kinds.index("loaded")].split()[-1] == "-"  # no Django: no database engine to name
    if warm:
        assert messages[kinds.index("warmed")].split()[-1] == "200,404,200"
        assert result["calls"][:3] == [
            ["/", "", "127.0.0.1:8000"],
            ["/missing/", "", "127.0.0.1:8000"],
            ["/search/", "q=1", "127.0.0.1:8000"],
        ]
    # two requests and the one with a wrong token reach the app; the control requests never do
    assert len(result["calls"]) == (6 if warm else 3)
    first, second, third = result["headers"]
    assert first["X-Prefork-Lab-First"] == "1" and second["X-Prefork-Lab-First"] == "0"
    # collections per generation since ready, as the runner's timeline reads them
    assert [int(n) >= 0 for n in first["X-Prefork-Lab-GC"].split(",")] == [True, True, True]
    assert first["X-Prefork-Lab-Worker"] == second["X-Prefork-Lab-Worker"] == third["X-Prefork-Lab-Worker"]
    assert first["X-Prefork-Lab-Loaded-In"] == ("master" if get_mode(mode).preload else "worker")
    assert first["X-Prefork-Lab-Warmed"] == ("3" if warm else "0")
    assert first["Content-Type"] == "text/plain" and result["body"] == "hello"
    assert (result["frozen"] > 0) == get_mode(mode).freeze
    if get_mode(mode).freeze:  # the lab's recipe collects once before freezing; the documented one does not
        assert (result["full_in_create"] > 0) == get_mode(mode).collect_before_freeze, result[
            "full_in_create"
        ]
    assert result["gc_enabled"]  # freeze disables collection while loading, never in a worker
    # the control request: one full collection, reported with the collections since ready
    collected = json.loads(messages[kinds.index("collected")].split(" ", 3)[3])
    assert result["control"] == {**collected, "pid": result["control"]["pid"]}
    assert len(collected["collections"]) == 3 and collected["collect_ms"] >= 0
    assert result["again"]["again"] is True
    assert result["token_in_environ"] is False  # the project cannot read the runner's token


def test_wrapper_reports_an_app_that_fails_to_load(tmp_path):
    (tmp_path / "prefork_lab_wrapper.py").write_text(WRAPPER.read_text())
    (tmp_path / "brokenapp.py").write_text("raise ValueError('no app today')\n")
    name = f"prefork-lab-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        env = {**os.environ, "PREFORK_LAB_APP": "brokenapp:app", "PREFORK_LAB_NOTIFY": "@" + name}
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import prefork_lab_wrapper as w; "
                "w.create_app()",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        listener.settimeout(1)
        message = listener.recv(65536).decode()
    assert done.returncode != 0 and "no app today" in done.stderr
    assert message.startswith("error ") and "ValueError: no app today" in message


def test_importing_the_wrapper_loads_nothing(tmp_path):
    """Server hooks import it in the master of a lazy server: that must not load the project."""
    (tmp_path / "prefork_lab_wrapper.py").write_text(WRAPPER.read_text())
    (tmp_path / "brokenapp.py").write_text("raise ValueError('loaded too early')\n")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import prefork_lab_wrapper",
        ],
        env={**os.environ, "PREFORK_LAB_APP": "brokenapp:app"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_memory_and_cpu_of_this_process():
    me = read_process(os.getpid())
    assert 0 < me.uss_kb <= me.pss_kb <= me.rss_kb
    tree = read_tree(os.getpid(), [os.getpid()])
    assert tree.total_mb("pss") == pytest.approx(2 * me.pss_kb / 1024, rel=0.2)
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) > before
    with pytest.raises(OSError):
        read_process(2**22 + 12345)
