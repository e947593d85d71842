"""The talk's figures, and our seed table beside them: the block per mode a terminal shows, and report.md's
first section (the talk's sequences, our medians with their CIs beside the talk's, each mode relative to lazy).
Formatters return lines; pandas objects are received, never imported here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from experiments.analysis.glossary import glossary_lines
from experiments.analysis.surprises import surprise_lines
from experiments.analysis.tables import cell_text, described_table, fmt, fmt_ci, is_nan, unit_of

if TYPE_CHECKING:
    from experiments.analysis.stats import Analysis

# The talk's figures per mode (its own project and hardware), and its memory cost of one more worker.
TALK: dict[str, dict[str, float]] = {
    "lazy": {"startup_s": 13, "memory_mb": 903, "first_query_ms": 3747},
    "prefork": {"startup_s": 132, "memory_mb": 769, "first_query_ms": 85},
    "prewarm": {"startup_s": 9, "memory_mb": 316, "first_query_ms": 121},
}

TALK_MB_PER_WORKER = 25

# The talk's sequences (its slides), and our modes that follow each: the talk's row is shown beside them.
TALK_SEQUENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lazy": ("uWSGI forks workers → each worker loads Django → ready", ("lazy",)),
    "prefork": (
        "uWSGI loads wsgi.py → forks workers → each worker loads Django → ready, uWSGI accepts requests",
        ("prefork-warm", "lazy-warm", "prefork"),
    ),
    "prewarm": ("load and send a warm-up request in the master → fork → ready", ("prewarm",)),
}

TALK_ROW: dict[str, str] = {mode: row for row, (_text, modes) in TALK_SEQUENCES.items() for mode in modes}

OPTIONAL_SEED_METRICS = ("memory_steady_mb",)

# The talk's three numbers per mode, in the order of its slides, with memory read twice: after traffic (what
# the talk compares with) and at steady state (after one full collection in every worker).
SEED_LABELS: dict[str, str] = {
    "startup_s": "startup",
    "memory_mb": "memory",
    "memory_steady_mb": "memory steady",
    "first_query_ms": "first_query",
}
SEED_METRICS: tuple[str, ...] = tuple(SEED_LABELS)

_LABEL_WIDTH = 14


def seed_block_lines(
    seed, metrics: Sequence[str] = tuple(SEED_LABELS), labels: Sequence[str] = ()
) -> list[str]:
    """The talk-style block per mode, blocks separated by a blank line::

    [prewarm] models=300 workers=4
    startup       = 0.46 s
    memory        = 74 MB
    first_query   = 11 ms

    ``labels`` are identity columns named in each header (``project=pretix``) when the blocks need them.
    """
    if seed is None or len(seed) == 0:
        return ["(no successful runs to tabulate)"]
    lines: list[str] = []
    for _, row in seed.iterrows():
        if lines:
            lines.append("")
        named = "".join(f" {c}={cell_text(row[c])}" for c in labels)
        lines.append(f"[{row['mode']}]{named} models={int(row['models'])} workers={int(row['workers'])}")
        for metric in metrics:
            name = SEED_LABELS.get(metric, metric)
            value = row.get(metric)
            if metric in OPTIONAL_SEED_METRICS and is_nan(value):
                continue  # runs measured before that reading existed
            unit = "" if is_nan(value) else f" {unit_of(metric)}".rstrip()
            lines.append(f"{name:<{_LABEL_WIDTH}}= {fmt(value)}{unit}")
    return lines


def seed_columns(metrics: Sequence[str] = tuple(SEED_LABELS)) -> dict[str, str]:
    """Heading -> registry column of the talk's metrics as the tables head them ("startup (s)")."""
    return {f"{SEED_LABELS[m]} ({unit_of(m)})": m for m in metrics}


def seed_glossary_lines(seed) -> list[str]:
    """The glossary of the seed blocks, for a terminal: the metrics they show."""
    if seed is None or len(seed) == 0:
        return []
    shown = [m for m in SEED_LABELS if m not in OPTIONAL_SEED_METRICS or seed[m].notna().any()]
    return glossary_lines([SEED_LABELS[m] for m in shown], {SEED_LABELS[m]: m for m in shown}, markdown=False)


def seed_section(a: Analysis) -> list[str]:
    metrics = list(SEED_LABELS)
    lines = ["## Seed table beside the talk", ""]
    if len(a.seed) == 0:
        return lines + ["No successful runs: nothing to compare.", ""]
    shown = a.shown(a.seed, ["mode"])
    lines += [
        f"Our point: **models={a.seed_models}, workers={a.seed_workers}**; median of n runs, "
        "95 % bootstrap CI in brackets. The talk measured its own project on its own hardware, so absolute "
        "values differ with size; the ratios between modes are the comparable part. Memory is read twice: "
        "after traffic (what the talk's figure is compared with: a server that has served its first "
        "requests) and at steady state, after one full garbage collection in every worker, which every "
        "long-running worker reaches sooner or later; where the two differ, the after-traffic figure is a "
        "transient.",
        "",
        *_sequences_lines(a.seed["mode"].tolist()),
    ]
    header = [*shown, "mode", "n"]
    for m in metrics:
        header += [f"{SEED_LABELS[m]} ({unit_of(m)})", "talk"]
    rows = []
    for _, r in a.seed.iterrows():
        talk = TALK.get(TALK_ROW.get(r["mode"], ""), {})
        row = [*(cell_text(r[c]) for c in shown), r["mode"], int(r["n"])]
        for m in metrics:
            row += [fmt_ci(r[m], r[f"{m}_ci_low"], r[f"{m}_ci_high"]), f"{talk[m]:g}" if m in talk else "—"]
        rows.append(row)
    align = "l" * len(shown) + "l" + "r" * (len(header) - len(shown) - 1)
    lines += described_table(header, rows, align, columns=seed_columns(metrics))
    lines += _relative_to_lazy(a.seed, shown, metrics)
    lines += surprise_lines(a)
    terminal = [*seed_block_lines(a.seed, labels=shown), "", *seed_glossary_lines(a.seed)]
    lines += ["```", *terminal, "```", ""]
    return lines


def _sequences_lines(modes: list[str]) -> list[str]:
    """Which of our modes follows which of the talk's sequences (the talk's row is shown beside them)."""
    rows = []
    for row, (sequence, ours) in TALK_SEQUENCES.items():
        present = [m for m in ours if m in modes]
        if present:
            rows.append([row, sequence, ", ".join(present)])
    if not rows:
        return []
    lines = [
        "The talk's rows, and our modes that follow each sequence (the talk's figures are shown beside them). "
        "Whether the talk's master had run `django.setup()` before fork is not certain from its slides: "
        "`prefork-warm` assumes it had, `lazy-warm` that it had not; plain `prefork` stops before each worker "
        "loads the rest of Django, which its first request then pays for.",
        "",
    ]
    return lines + described_table(["talk's row", "its sequence", "our modes"], rows, "lll")


def _relative_to_lazy(seed, shown: list[str], metrics: list[str]) -> list[str]:
    """Each mode's value ÷ lazy's value in the same project (sweep …), beside the talk's ratios."""
    bases = {tuple(cell_text(r[c]) for c in shown): r for _, r in seed.iterrows() if r["mode"] == "lazy"}
    if not bases or len(seed) <= len(bases):
        return []
    lines = ["Relative to lazy (value ÷ lazy's value):", ""]
    header = [*shown, "mode"]
    for m in metrics:
        header += [f"{SEED_LABELS[m]} ours", "talk"]
    rows = []
    for _, r in seed.iterrows():
        base = bases.get(tuple(cell_text(r[c]) for c in shown))
        talk = TALK.get(TALK_ROW.get(r["mode"], ""), {})
        row = [*(cell_text(r[c]) for c in shown), r["mode"]]
        for m in metrics:
            usable = base is not None and base[m] and not is_nan(r[m]) and not is_nan(base[m])
            ours = r[m] / base[m] if usable else math.nan
            theirs = talk[m] / TALK["lazy"][m] if m in talk else math.nan
            row += [_ratio(ours), _ratio(theirs)]
        rows.append(row)
    notes = {
        f"{SEED_LABELS[m]} ours": f"this mode's median {SEED_LABELS[m]} ÷ lazy's, same project"
        for m in metrics
    }
    notes["talk"] = "the same ratio in the talk"
    align = "l" * (len(shown) + 1) + "r" * (len(header) - len(shown) - 1)
    return lines + described_table(header, rows, align, notes=notes)


def _ratio(v: float) -> str:
    if is_nan(v):
        return "—"
    return f"{v:.0f}×" if v >= 10 else f"{v:.2f}×"
