"""Do the hosts agree? When a sweep's runs ran on several machines (cluster nodes), the median of the talk's
metrics per host at every point, so that a node that starts or answers differently stands out.

Receives the loaded frame; imports no pandas itself. The report adds the section only when rows name more than
one host.
"""

from __future__ import annotations

from experiments.analysis.tables import described_table, fmt
from experiments.analysis.talk import SEED_LABELS, seed_columns
from experiments.columns import BY_NAME

HOST_METRICS: tuple[str, ...] = tuple(SEED_LABELS)
POINT = ("mode", "models", "workers")


def hosts_of(df) -> list[str]:
    """The distinct hosts of the successful runs, sorted (blank: rows written before the column existed)."""
    ok = df[df["status"] == "ok"]
    return sorted({str(h) for h in ok["host"].dropna() if str(h).strip()})


def host_medians(df, metrics=HOST_METRICS):
    """One row per point and host: the number of successful runs and the median of each metric."""
    ok = df[(df["status"] == "ok") & df["host"].notna() & (df["host"].astype(str).str.strip() != "")]
    grouped = ok.groupby([*POINT, "host"], sort=True)
    table = grouped[list(metrics)].median()
    table.insert(0, "n", grouped.size())
    return table.reset_index()


def host_section_lines(df) -> list[str]:
    """The report's per-host section, or nothing when every successful run ran on one host."""
    hosts = hosts_of(df)
    if len(hosts) < 2:
        return []
    table = host_medians(df)
    header = [*POINT, "host", "n"] + [f"{SEED_LABELS[m]} ({BY_NAME[m].unit})" for m in HOST_METRICS]
    rows = [
        [row["mode"], int(row["models"]), int(row["workers"]), row["host"], int(row["n"])]
        + [fmt(row[m]) for m in HOST_METRICS]
        for _, row in table.iterrows()
    ]
    lines = [
        "## Per host",
        "",
        f"The runs ran on {len(hosts)} hosts ({', '.join(hosts)}); median of the successful runs of each "
        "host at each point. Hosts that disagree at a point measure different machines, not noise.",
        "",
    ]
    align = "lrrlr" + "r" * len(HOST_METRICS)
    return lines + described_table(header, rows, align, columns=seed_columns(HOST_METRICS))
