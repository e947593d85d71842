import random

from hypothesis import given
from hypothesis import strategies as st

from generator.graph import MAX_RELATIONS_PER_MODEL, is_acyclic, plan_relations


def _apps(sizes):
    return [app for app, size in enumerate(sizes) for _ in range(size)]


@given(
    sizes=st.lists(st.integers(1, 15), min_size=1, max_size=12),
    mean=st.floats(0, 6),
    seed=st.integers(0, 10**6),
)
def test_edges_point_backwards_and_never_to_a_later_app(sizes, mean, seed):
    app_of_model = _apps(sizes)
    edges = plan_relations(app_of_model, mean, random.Random(seed))
    assert is_acyclic(edges, app_of_model)
    per_source = {}
    for edge in edges:
        per_source[edge.source] = per_source.get(edge.source, 0) + 1
        assert edge.kind in {"fk", "m2m", "o2o"}
    assert all(count <= min(MAX_RELATIONS_PER_MODEL, source) for source, count in per_source.items())


def test_is_acyclic_rejects_forward_and_cross_app_edges():
    from generator.graph import Edge

    apps = [0, 0, 1, 1]
    assert not is_acyclic([Edge(1, 2, "fk")], apps)  # forward
    assert not is_acyclic([Edge(1, 1, "fk")], apps)  # self
    assert is_acyclic([Edge(3, 0, "fk"), Edge(1, 0, "m2m")], apps)


def test_mean_relations_per_model_is_honoured():
    app_of_model = _apps([12] * 25)
    edges = plan_relations(app_of_model, 2.0, random.Random(1))
    assert 1.6 <= len(edges) / len(app_of_model) <= 2.3
    kinds = {e.kind for e in edges}
    assert kinds == {"fk", "m2m", "o2o"}
    same_app = sum(app_of_model[e.source] == app_of_model[e.target] for e in edges)
    assert 0.5 < same_app / len(edges) < 0.9


def test_zero_relations_and_determinism():
    app_of_model = _apps([5, 5])
    assert plan_relations(app_of_model, 0, random.Random(0)) == []
    assert plan_relations(app_of_model, 3, random.Random(7)) == plan_relations(
        app_of_model, 3, random.Random(7)
    )
    assert plan_relations(app_of_model, 3, random.Random(7)) != plan_relations(
        app_of_model, 3, random.Random(8)
    )
