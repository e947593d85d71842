"""The WSGI wrapper outside uWSGI (as in a master before fork), and the /proc readers: fast unit tests."""

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
seen = []
def start_response(status, headers, exc_info=None):
    seen.append(dict(headers))
body = w.application({"PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": "x"}, start_response)
w.application({"PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": "x"}, start_response)
print(json.dumps({"calls": tinyapp.calls, "headers": seen, "body": b"".join(body).decode(),
                  "frozen": gc.get_freeze_count()}))
"""


def run_wrapper(tmp_path: Path, mode: str) -> tuple[dict, list[str]]:
    (tmp_path / "tinyapp.py").write_text(APP)
    (tmp_path / "prefork_lab_wrapper.py").write_text(WRAPPER.read_text())
    name = f"prefork-lab-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        env = {
            **os.environ,
            "PREFORK_LAB_MODE": mode,
            "PREFORK_LAB_APP": "tinyapp:app",
            "PREFORK_LAB_NOTIFY": "@" + name,
            "PREFORK_LAB_WARMUP": "/\n/missing/\n/search/?q=1",
            "PREFORK_LAB_HOST": "127.0.0.1:8000",
        }
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(DRIVER), str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        listener.settimeout(0.2)
        messages = []
        try:
            while True:
                messages.append(listener.recv(65536).decode())
        except TimeoutError:
            pass
    return json.loads(done.stdout), messages


@pytest.mark.parametrize("mode", ["prefork", "prewarm", "prewarm-freeze"])
def test_wrapper_loads_warms_and_marks_responses(tmp_path, mode):
    result, messages = run_wrapper(tmp_path, mode)
    kinds = [m.split()[0] for m in messages]
    assert kinds[0] == "loaded"
    warm = mode.startswith("prewarm")
    if warm:
        assert kinds == ["loaded", "warmed"]
        assert messages[1].split()[-1] == "200,404,200"
        assert result["calls"][:3] == [
            ["/", "", "127.0.0.1:8000"],
            ["/missing/", "", "127.0.0.1:8000"],
            ["/search/", "q=1", "127.0.0.1:8000"],
        ]
    else:
        assert kinds == ["loaded"]
    assert len(result["calls"]) == (5 if warm else 2)
    first, second = result["headers"]
    assert first["X-Prefork-Lab-First"] == "1" and second["X-Prefork-Lab-First"] == "0"
    assert first["X-Prefork-Lab-Worker"] == second["X-Prefork-Lab-Worker"]
    assert first["X-Prefork-Lab-Loaded-In"] == "master"
    assert first["X-Prefork-Lab-Warmed"] == ("3" if warm else "0")
    assert first["Content-Type"] == "text/plain" and result["body"] == "hello"
    assert (result["frozen"] > 0) == (mode == "prewarm-freeze")


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
                f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import prefork_lab_wrapper",
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
