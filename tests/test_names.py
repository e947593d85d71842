import importlib.util
import keyword
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.names import MODEL_RESERVED, MODULE_RESERVED, NameRegistry, clean_name
from generator.spec import FIELD_RESERVED


@pytest.mark.parametrize(
    ("raw", "case", "expected"),
    [
        ("Invoice line", "camel", "InvoiceLine"),
        ("shipping address", "snake", "shipping_address"),
        ("ShippingAddress", "snake", "shipping_address"),
        ("HTTPServer", "snake", "http_server"),
        ("e-commerce", "label", "ecommerce"),
        ("__dunder__", "snake", "dunder"),
        ("trailing_", "snake", "trailing"),
        ("a__b", "snake", "a_b"),
        ("Café au lait", "camel", "CafeAuLait"),
        ("2fa token", "snake", "n_2fa_token"),
        ("", "camel", "Item"),
        ("!!!", "snake", "value"),
        ("über", "label", "uber"),
    ],
)
def test_clean_name_shapes(raw, case, expected):
    assert clean_name(raw, case) == expected


@pytest.mark.parametrize(
    ("word", "case"),
    [("class", "snake"), ("def", "snake"), ("lambda", "snake"), ("match", "snake"), ("case", "snake"),
     ("None", "camel"), ("True", "camel"), ("False", "camel")],
)  # fmt: skip
def test_python_keywords_and_soft_keywords_get_a_suffix(word, case):
    name = clean_name(word, case)
    assert name != word
    assert name.startswith(word)
    assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)


@pytest.mark.parametrize(
    "word", ["id", "pk", "objects", "save", "delete", "clean", "check", "full_clean", "Meta"]
)
def test_django_reserved_field_names_are_avoided(word):
    name = clean_name(word, "snake", reserved=FIELD_RESERVED)
    assert name.lower() not in {w.lower() for w in FIELD_RESERVED}
    assert name.startswith(word.lower())


def test_duplicates_get_numbered_case_insensitively():
    assert clean_name("status", "snake", taken={"status"}) == "status_2"
    assert clean_name("status", "snake", taken={"STATUS", "status_2"}) == "status_3"
    assert clean_name("Invoice", "camel", taken={"invoice"}) == "Invoice2"
    assert clean_name("billing", "label", taken={"billing"}) == "billing2"


def test_app_labels_never_shadow_modules():
    for module in ("json", "os", "email", "django", "yaml", "config", "tests"):
        assert clean_name(module, "label", reserved=MODULE_RESERVED) != module


def test_module_reserved_covers_the_standard_library():
    assert {name.lower() for name in sys.stdlib_module_names} <= MODULE_RESERVED


def test_model_reserved_covers_every_public_model_attribute():
    from django.db import models

    public = {name for name in dir(models.Model) if not name.startswith("_")}
    assert public <= MODEL_RESERVED


def test_registry_hands_out_unique_names_and_honours_reserve():
    registry = NameRegistry("snake", reserved={"pk"})
    names = [registry.claim("status") for _ in range(5)]
    assert len(set(names)) == 5
    registry.reserve("customer_id")
    assert registry.claim("customer id") == "customer_id_2"
    assert registry.claim("pk") == "pk_2"
    assert "STATUS" in registry


@given(
    raw=st.text(max_size=40),
    case=st.sampled_from(["snake", "camel", "label"]),
    taken=st.sets(st.text(alphabet="abcxyz_29", min_size=1, max_size=6), max_size=8),
)
def test_any_input_gives_a_safe_identifier(raw, case, taken):
    reserved = FIELD_RESERVED | MODULE_RESERVED
    name = clean_name(raw, case, reserved=reserved, taken=taken)
    assert name.isidentifier() and name.isascii()
    assert name[0].isalpha()
    assert "__" not in name and not name.endswith("_")
    assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
    assert name.lower() not in {r.lower() for r in reserved}
    assert name.lower() not in {t.lower() for t in taken}
    if case == "label":
        assert name == name.lower() and "_" not in name
    assert clean_name(raw, case, reserved=reserved, taken=taken) == name  # pure


def test_generated_labels_are_not_importable_here():
    from generator.options import resolve_options
    from generator.spec import build_spec

    spec = build_spec(resolve_options(1200, apps=150))
    for app in spec.apps:
        assert importlib.util.find_spec(app.label) is None, app.label
