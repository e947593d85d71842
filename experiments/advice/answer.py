"""From the measured figures to the delivered answer: the recommendation, the files written, their verification
under the real server, the report and its plot, and the lines to print."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from experiments.advice.configs import Deployment, render
from experiments.advice.figures import ModeFigures
from experiments.advice.recommend import Budget, connections, project_changes, recommend
from experiments.advice.screen import Answer, answer_lines
from experiments.advice.verify import Traffic, Verification, verify

LOG_NAME = "verify.log"
REPORT_NAME = "report.md"


def _summary(chosen: ModeFigures, sizing, request) -> tuple[str, ...]:
    """The measurement behind the files, as comment lines in them."""
    from experiments.advice.screen import interval

    return (
        f"Measured: {request.repetitions} runs per mode at {', '.join(map(str, request.workers))} workers, to "
        "steady state (a full collection in every worker).",
        f"Predicted at steady state with {sizing.workers} workers: {interval(sizing.total_mb, 'MB')} in all "
        f"(PSS), within {request.memory_text} with recycling headroom; first query "
        f"{interval(chosen.first_query_ms, 'ms')}.",
    )


def deployment(prepared, chosen: ModeFigures, sizing) -> Deployment:
    request, server = prepared.request, prepared.server
    return Deployment(
        server=request.server,
        server_version=server.version,
        mode=chosen.mode,
        name=request.name,
        root=request.root,
        settings=request.settings,
        wsgi=prepared.wsgi,
        urls=request.urls,
        allowed=request.allowed,
        workers=sizing.workers,
        max_requests=sizing.recycling.max_requests,
        jitter=sizing.recycling.jitter,
        recycling_why=sizing.recycling.why,
        startup_s=chosen.startup_s.high if chosen.startup_s else 0.0,
        home=server.prefix,
        summary=_summary(chosen, sizing, request),
    )


def start_line(plan: Deployment, directory: Path) -> str:
    config = directory / plan.config_file
    if plan.server == "gunicorn":
        return f"gunicorn -c {config}"
    return f"uwsgi --ini {config} --http-socket 127.0.0.1:8000 (or the socket your front end uses)"


def _verify(prepared, plan: Deployment, chosen: ModeFigures, sizing, say) -> Verification:
    from experiments.projects import bytecode_env, default_cache_dir

    request, directory = prepared.request, prepared.directory
    expect = Verification(
        workers=sizing.workers,
        command=(),
        predicted_mb=sizing.total_mb,
        predicted_first_ms=chosen.first_query_ms,
        first_range=chosen.first_query_range,
    )
    say(f"verifying: {plan.config_file} under {request.server}, {sizing.workers} workers, without the lab")
    log = directory.write(LOG_NAME, "")
    ready_s = max(60.0, 5 * (chosen.startup_s.high if chosen.startup_s else 0.0))
    # bytecode from the lab's prefix, as the measured runs read it: no compilation in the verified start-up
    env = bytecode_env(default_cache_dir(), {})
    result = verify(
        prepared.server,
        directory.path / plan.config_file,
        request.root,
        env,
        expect,
        Traffic(request.urls, request.requests, request.allowed),
        ready_s,
        log,
    )
    directory.adopt(LOG_NAME)
    return result


def _deliver(prepared, chosen: ModeFigures, sizing, say) -> tuple[dict[str, str], str, Verification]:
    """The files of the chosen mode, written, then verified: (files, how to start them, the verification)."""
    plan = deployment(prepared, chosen, sizing)
    files = render(plan)
    for name, text in files.items():
        prepared.directory.write(name, text)
    return files, start_line(plan, prepared.directory.path), _verify(prepared, plan, chosen, sizing, say)


def _report(prepared, answer_: Answer, files: dict[str, str]) -> tuple[str, ...]:
    from experiments.advice.plan import plan_lines
    from experiments.advice.report import PLOT_NAME, plot_memory, report_markdown

    directory = prepared.directory
    plot = None
    if any(f.fit for f in answer_.figures):
        plot_memory(answer_, directory.path / PLOT_NAME)
        directory.adopt(PLOT_NAME)
        plot = PLOT_NAME
    plan = plan_lines(replace(prepared.request, wsgi=prepared.wsgi), prepared.request.cores)
    directory.write(REPORT_NAME, report_markdown(answer_, files, plot, plan))
    return tuple(str(directory.path / name) for name in (REPORT_NAME, plot) if name)


@dataclass(frozen=True)
class Outcome:
    """What advise prints, and whether the written files held the prediction."""

    lines: list[str]
    verified: bool


def answer(prepared, figures: tuple[ModeFigures, ...], say) -> Outcome:
    request, structure = prepared.request, prepared.structure
    recommendation = recommend(figures, Budget(request.memory_mb, request.cores))
    chosen = next((f for f in figures if f.mode == recommendation.mode), None)
    sizing = recommendation.sizing
    files: dict[str, str] = {}
    verification, start, pool = None, "", None
    if chosen is not None:
        files, start, verification = _deliver(prepared, chosen, sizing, say)
        pool = connections(
            sizing.workers,
            1,
            structure.database_vendor,
            structure.pool_size,
            structure.conn_max_age,
            structure.max_connections,
        )
    changes = project_changes(
        figures, recommendation.mode, request.urls, sizing.recycling if sizing else None
    )
    result = Answer(
        name=request.name,
        server=request.server,
        server_version=prepared.server.version,
        budget_text=request.memory_text,
        budget_mb=request.memory_mb,
        cores=request.cores,
        urls=request.urls,
        workers=request.workers,
        repetitions=request.repetitions,
        lifecycle_requests=request.lifecycle_requests,
        figures=figures,
        recommendation=recommendation,
        connections=pool,
        changes=tuple(changes),
        files=tuple(files),
        output=str(prepared.directory.path),
        start=start,
        verification=verification,
    )
    reports = _report(prepared, result, files)
    prepared.directory.remove_stale()
    result = replace(result, report=reports)
    return Outcome(answer_lines(result), verified=verification is not None and verification.ok)
