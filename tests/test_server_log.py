"""A failed run's error keeps the cause and the log lines about the failure, never the server's banner."""

from __future__ import annotations

import pytest

from experiments.errors import LOG_MARK, error_cause
from experiments.measure.server_log import explain_failure, failure_lines
from experiments.servers.gunicorn import Gunicorn
from experiments.servers.uwsgi import Uwsgi

UWSGI_LOG = """\
*** Starting uWSGI 2.0.31 (64bit) on [Mon Dec  1 10:00:00 2026] ***
detected max file descriptor number: 1024
*** WARNING: you are running uWSGI as root !!! (use the --uid flag) ***
Python version: 3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]
*** Operational MODE: preforking ***
spawned uWSGI master process (pid: 100)
spawned uWSGI worker 1 (pid: 101, cores: 1)
spawned uWSGI worker 2 (pid: 102, cores: 1)
Internal Server Error: /shop/
Traceback (most recent call last):
  File "/p/shop/views.py", line 3, in index
    return 1 / 0
           ~~^~~
ZeroDivisionError: division by zero
Internal Server Error: /shop/
Traceback (most recent call last):
  File "/p/shop/views.py", line 3, in index
    return 1 / 0
           ~~^~~
ZeroDivisionError: division by zero
WSGI app 0 (mountpoint='') ready in 1 seconds on interpreter 0x7f pid: 101 (default app)
"""

GUNICORN_LOG = """\
[2026-12-01 10:00:00 +0000] [100] [INFO] Starting gunicorn 23.0.0
[2026-12-01 10:00:00 +0000] [100] [INFO] Listening at: http://127.0.0.1:8000 (100)
[2026-12-01 10:00:00 +0000] [101] [INFO] Booting worker with pid: 101
[2026-12-01 10:00:01 +0000] [101] [ERROR] Exception in worker process
Traceback (most recent call last):
  File "/p/wsgi.py", line 1, in <module>
    import missing
KeyboardInterrupt
[2026-12-01 10:00:01 +0000] [100] [ERROR] Connection in use: ('127.0.0.1', 8000)
[2026-12-01 10:00:01 +0000] [100] [INFO] Shutting down: Master
"""


def server(cls):
    """A server object for its log rules only: no program is looked for."""
    return cls(executable="/nonexistent")


def test_a_traceback_and_error_lines_are_kept_each_once_and_the_banner_dropped():
    lines, exception = failure_lines(UWSGI_LOG, server(Uwsgi))
    assert lines == [
        "Internal Server Error: /shop/",
        "Traceback (most recent call last):",
        'File "/p/shop/views.py", line 3, in index',
        "return 1 / 0",
        "~~^~~",
        "ZeroDivisionError: division by zero",
    ]
    assert exception == "ZeroDivisionError: division by zero"


def test_an_exception_not_named_error_ends_its_traceback_and_bind_errors_stay():
    lines, exception = failure_lines(GUNICORN_LOG, server(Gunicorn))
    assert exception == "KeyboardInterrupt"  # named by its place, not by a word
    assert lines[0] == "[2026-12-01 10:00:01 +0000] [101] [ERROR] Exception in worker process"
    assert any("Connection in use" in line for line in lines)  # what the executor retries on
    assert not any("Booting worker" in line or "Listening at" in line for line in lines)


@pytest.mark.parametrize(
    ("message", "expected_cause"),
    [
        (
            "warm traffic: GET /shop/: HTTP 500 (2×) (an error page is not a measurement)",
            "warm traffic: GET /shop/: HTTP 500 (2×) (an error page is not a measurement): "
            "ZeroDivisionError: division by zero",
        ),
        (  # the cause already names the exception: not twice
            "the app failed to load: ZeroDivisionError: division by zero",
            "the app failed to load: ZeroDivisionError: division by zero",
        ),
    ],
)
def test_the_cause_comes_first_with_the_logs_last_exception(tmp_path, message, expected_cause):
    log = tmp_path / "server.log"
    log.write_text(UWSGI_LOG)
    error = explain_failure(message, log, server(Uwsgi))
    assert error_cause(error, 1000) == expected_cause
    assert error.split(LOG_MARK, 1)[1].startswith("Internal Server Error: /shop/ | Traceback")
    assert "spawned uWSGI" not in error and "Starting uWSGI" not in error


def test_a_log_with_nothing_about_the_failure_leaves_the_cause_alone(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("\n".join(UWSGI_LOG.splitlines()[:8]) + "\n")
    assert explain_failure("timeout: 0 of 2 workers ready after 2 s", log, server(Uwsgi)) == (
        "timeout: 0 of 2 workers ready after 2 s"
    )
    assert explain_failure("cause", tmp_path / "absent.log", server(Uwsgi)) == "cause"
