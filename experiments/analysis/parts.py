"""The parts of the "explain why" figures and tables: where loading, a worker's first request and its private
memory go, bottom first, and the medians of each part at one point, one bar per mode (and project)."""

from __future__ import annotations

# Stacked parts of the "explain why" figures: (metric, label), bottom first.
STARTUP_PARTS: tuple[tuple[str, str], ...] = (
    ("phase_settings_s", "settings"),
    ("phase_apps_import_s", "apps: import"),
    ("phase_models_s", "apps: models"),
    ("phase_ready_s", "apps: ready()"),
    ("phase_middleware_s", "middleware"),
    ("phase_other_s", "the rest of wsgi.py"),
    ("phase_warmup_s", "warm-up"),
)
FIRST_REQUEST_PARTS: tuple[tuple[str, str], ...] = (
    ("phase_urlconf_ms", "URLconf import"),
    ("phase_db_connect_ms", "DB connect"),
    ("phase_templates_ms", "templates"),
    ("phase_view_ms", "view and the rest"),
)
PRIVATE_PARTS: tuple[tuple[str, str], ...] = (
    ("worker_private_anon_mb_mean", "anonymous (object arenas)"),
    ("worker_private_heap_mb_mean", "malloc heap"),
    ("worker_private_file_mb_mean", "file-backed"),
    ("worker_private_other_mb_mean", "stack and other"),
)
PART_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def stacked_rows(summary, parts, models: int | None, workers: int | None, keys: list[str]):
    """{bar label: [median of each part]} at one (models, workers), bars in mode order, a project (or other
    identity) named in the label only when several share the point."""
    from experiments.analysis.grouping import distinguishing, groups, mode_sort_key, version_sort_key

    names = [metric for metric, _ in parts]
    rows = summary[
        summary["metric"].isin(names) & (summary["models"] == models) & (summary["workers"] == workers)
    ]
    if rows.empty:
        return {}
    keys = [k for k in keys if k not in ("models", "workers")]
    shown = distinguishing(rows, ["mode", "metric"], [k for k in keys if k != "mode"])
    bars = {}

    def order(item):
        values = item[0]
        return mode_sort_key(values["mode"]), version_sort_key(values.get("python") or "")

    for values, group in sorted(groups(rows, keys), key=order):
        label = " · ".join([values["mode"], *(str(values[c]) for c in shown)])
        medians = dict(zip(group["metric"], group["median"], strict=True))
        bars[label] = [float(medians.get(metric, 0.0)) for metric in names]
    return bars
