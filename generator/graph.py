"""The relation graph: which model points at which. Pure and seeded.

Models are numbered globally (apps in order, models in order inside each app). A model only points at models
with a smaller number, and only into its own app or an earlier one, so the graph is acyclic between models and
between apps: every app's ``0001_initial`` migration can depend on earlier apps only, and rows can be inserted
in model order with every foreign key already satisfiable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KIND_WEIGHTS = (("fk", 0.68), ("m2m", 0.2), ("o2o", 0.12))
SAME_APP_SHARE = 0.7
MAX_RELATIONS_PER_MODEL = 12


@dataclass(frozen=True)
class Edge:
    source: int  # global model number
    target: int  # global model number, always < source
    kind: str  # "fk", "m2m" or "o2o"


def plan_relations(app_of_model: list[int], relations_per_model: float, rng: random.Random) -> list[Edge]:
    """Pick the edges for models whose app numbers are ``app_of_model`` (non-decreasing)."""
    first_model_of_app: dict[int, int] = {}
    for number, app in enumerate(app_of_model):
        first_model_of_app.setdefault(app, number)
    kinds = [k for k, _ in KIND_WEIGHTS]
    weights = [w for _, w in KIND_WEIGHTS]
    edges: list[Edge] = []
    for source, app in enumerate(app_of_model):
        if source == 0 or relations_per_model <= 0:
            continue
        wanted = max(0, round(rng.gauss(relations_per_model, relations_per_model * 0.5)))
        wanted = min(wanted, source, MAX_RELATIONS_PER_MODEL)
        same_app_start = first_model_of_app[app]
        for _ in range(wanted):
            in_same_app = same_app_start < source and (same_app_start == 0 or rng.random() < SAME_APP_SHARE)
            target = (
                rng.randrange(same_app_start, source) if in_same_app else rng.randrange(0, same_app_start)
            )
            edges.append(Edge(source, target, rng.choices(kinds, weights)[0]))
    return edges


def is_acyclic(edges: list[Edge], app_of_model: list[int]) -> bool:
    """True when every edge points backwards in model order and never to a later app."""
    return all(e.target < e.source and app_of_model[e.target] <= app_of_model[e.source] for e in edges)
