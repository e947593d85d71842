"""The pieces of long traffic without a pre-fork server: percentiles, growth, the load generator's accounting
against a plain HTTP server, recycles paired from the wrapper's messages, and the timeline file."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from experiments.columns import TIMELINE_NAMES
from experiments.errors import ExperimentError
from experiments.export_timeline import TimelineCsv, timeline_path
from experiments.measure.inbox import Message
from experiments.measure.lifecycle import Lifecycle
from experiments.measure.load import LoadGenerator, parse_gc, percentile
from experiments.measure.timeline import Reading, growth_mb_per_1k, peak_pss_mb


def reading(requests, pid, worker_requests, uss, pss=None, process="worker", gen2=0) -> Reading:
    return Reading(requests, 0.0, process, pid, worker_requests, pss or uss, uss, 1, 0, gen2, None, None)


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.99) == 3.0
    values = [float(v) for v in range(1, 101)]
    assert (
        percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0 and percentile(values, 1) == 100
    )
    assert percentile(list(reversed(values)), 0.5) == 50.0


def test_parse_gc_reads_the_header_or_nothing():
    assert parse_gc("41,3,1") == (41, 3, 1)
    assert parse_gc("") is None and parse_gc(None) is None and parse_gc("1,x,2") is None


def test_growth_is_the_slope_over_each_workers_second_half_of_life():
    # worker 1 jumps at first (its first full collection) then grows 0.5 MB per 1,000 requests
    one = [reading(n * 2, 1, n, 10 + (5 if n >= 1000 else 0) + 0.0005 * n) for n in range(0, 10001, 1000)]
    # worker 2 grows 1.5 MB per 1,000 throughout
    two = [reading(n * 2, 2, n, 20 + 0.0015 * n) for n in range(0, 10001, 1000)]
    assert growth_mb_per_1k(one + two) == pytest.approx((0.5 + 1.5) / 2)
    assert growth_mb_per_1k(one[:3]) is None  # too few readings in the second half
    flat = [reading(0, 3, 0, 5.0)] * 4
    assert growth_mb_per_1k(flat) is None  # requests did not move
    # a prewarmed worker's first full collection late in its life makes its inherited objects private: a step,
    # not growth; with too few readings after it, no figure at all
    step = [
        reading(n, 4, n, 20 + (100 if n >= 9000 else 0) + 0.0002 * n, gen2=int(n >= 9000))
        for n in range(0, 10001, 1000)
    ]
    assert growth_mb_per_1k(step) is None
    later = [
        reading(n, 5, n, 20 + (100 if n >= 6000 else 0) + 0.0002 * n, gen2=int(n >= 6000))
        for n in range(0, 10001, 1000)
    ]
    assert growth_mb_per_1k(later) == pytest.approx(0.2)


def test_peak_sums_every_process_of_one_reading():
    readings = [
        reading(0, 10, 0, 30, process="master"),
        reading(0, 1, 0, 20),
        reading(0, 2, 0, 20),
        reading(100, 10, 0, 30, process="master"),
        reading(100, 1, 50, 25),
        reading(100, 2, 50, 26),
    ]
    assert peak_pss_mb(readings) == pytest.approx(81)
    assert peak_pss_mb([]) is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/drop/":
            self.connection.shutdown(socket.SHUT_RDWR)  # the server goes away mid-request
            return
        self.send_response(500 if self.path == "/broken/" else 200)
        self.send_header("X-Prefork-Lab-Worker", "4242")
        self.send_header("X-Prefork-Lab-GC", "7,1,0")
        self.send_header("X-Prefork-Lab-First", "0")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def plain_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_every_request_is_answered_or_counted_as_failed(plain_server):
    urls = ["/", "/broken/", "/drop/", "/"]
    ticks = []
    result = LoadGenerator(plain_server, urls, timeout=5).run(40, clients=4, tick=ticks.append)
    assert result.answered + result.failed == 40
    assert result.answered == 20 and result.served_by == {4242: 20} and result.gc_counts[4242] == (7, 1, 0)
    assert result.failures["GET /broken/: HTTP 500"] == 10 and result.error_pages == 10
    assert sum(n for cause, n in result.failures.items() if not cause.startswith("GET ")) == 10
    assert sorted(ticks) == list(range(1, 21))  # once per answer, with the count answered so far
    allowed = LoadGenerator(plain_server, ["/broken/"], timeout=5, allowed={"/broken/": [500]}).run(5, 2)
    assert allowed.answered == 5 and allowed.failed == 0


def test_stop_ends_the_traffic_early(plain_server):
    generator = LoadGenerator(plain_server, ["/"], timeout=5)
    result = generator.run(10_000, clients=2, tick=lambda n: n >= 10 and generator.stop())
    assert 10 <= result.answered < 100


def message(kind, pid, ns, rest=""):
    return Message(kind, pid, ns, ns, rest)


def test_each_replacement_is_paired_with_the_oldest_open_retirement():
    workers = [1, 2]
    life = Lifecycle(inbox=None, workers=workers, details={})
    life.handle(message("retired", 1, 1_000_000, "1000"))
    life.handle(message("retired", 2, 2_000_000, "1050"))
    assert workers == [] and not life.settled(2)
    life.handle(message("forked", 3, 2_500_000))
    life.handle(message("ready", 3, 5_000_000))
    life.handle(message("exited", 1, 5_100_000, "0"))  # the master's late word on a worker that retired
    life.handle(message("ready", 4, 6_000_000))
    assert workers == [3, 4] and life.settled(2) and life.problems == []
    first, second = life.recycles
    assert (first.old_pid, first.new_pid, first.requests, first.unavailable_ms) == (1, 3, 1000, 4.0)
    assert (second.old_pid, second.new_pid, second.unavailable_ms) == (2, 4, 4.0)
    assert sorted(life.seen) == [1, 2, 3, 4]


def test_a_worker_lost_without_retiring_is_a_problem():
    life = Lifecycle(inbox=None, workers=[1, 2], details={})
    life.handle(message("exited", 2, 1, "9"))
    life.handle(message("ready", 5, 2))
    life.handle(message("error", 5, 3, "Traceback …\nImportError: no"))
    assert life.problems == [
        "worker 2 exited (status 9) during traffic",
        "worker 5 started during traffic, replacing no retired worker",
        "worker 5: ImportError: no",
    ]


def test_the_timeline_file_is_ours_appended_and_never_a_users_file(tmp_path):
    output = tmp_path / "r.csv"
    assert timeline_path(output).name == "r.csv.timeline.csv"
    timeline = TimelineCsv(output)
    timeline.append("run1", "t0", [reading(0, 1, 0, 12.5).record()])
    with open(timeline.path, "a") as handle:
        handle.write("run1,t0,5,0.1,wor")  # a line torn by a killed runner
    timeline.append(
        "run2", "t1", [reading(10, 2, 5, 13).record(), reading(10, 9, 0, 30, process="master").record()]
    )
    lines = timeline.read_rows()
    assert list(lines[0]) == list(TIMELINE_NAMES)
    assert [(line["run_id"], line["pid"]) for line in lines] == [("run1", "1"), ("run2", "2"), ("run2", "9")]
    mine = tmp_path / "mine.csv"
    timeline_path(mine).write_text("my,own\n1,2\n")
    with pytest.raises(ExperimentError, match="not a timeline of run-experiments"):
        TimelineCsv(mine, "--output").append("r", "t", [reading(0, 1, 0, 1).record()])
    assert timeline_path(mine).read_text() == "my,own\n1,2\n"
