"""The one pure function that turns any raw word into a safe generated name, a registry built on it, and the
names every registry must refuse (Django's Model attributes, modules, the generated code's own names).

Like Django's inspectdb: every generated identifier (app label, model, field, related name, index, URL name)
goes through :func:`clean_name`, so no other code needs to know the rules.
"""

from __future__ import annotations

import builtins
import keyword
import re
import sys
import unicodedata
from collections.abc import Collection
from typing import Literal

Case = Literal["snake", "camel", "label"]

# Attributes of django.db.models.Model (Django 5.2) plus what Django adds per model; a field named like
# one of them would shadow the method. tests/test_names.py checks this list against the real Model class.
MODEL_RESERVED = frozenset(
    {
        "adelete", "arefresh_from_db", "asave", "check", "clean", "clean_fields", "date_error_message",
        "delete", "from_db", "full_clean", "get_constraints", "get_deferred_fields", "pk", "prepare_database_save",
        "refresh_from_db", "save", "save_base", "serializable_value", "unique_error_message", "validate_constraints",
        "validate_unique", "id", "objects", "DoesNotExist", "MultipleObjectsReturned", "get_absolute_url",
        "get_next_by", "get_previous_by", "state", "meta", "model", "query", "fields",
    }
)  # fmt: skip

# Module names an app label must not shadow: Python's standard library, Django and the packages this tool
# installs or generated projects import, plus the generated project's own top-level packages.
KNOWN_PACKAGES = frozenset(
    {
        "django", "asgiref", "sqlparse", "jinja2", "markupsafe", "yaml", "faker", "uwsgi", "uwsgidecorators",
        "pandas", "numpy", "matplotlib", "dateutil", "pytz", "tzdata", "six", "pil", "kiwisolver", "cycler",
        "fonttools", "contourpy", "pyparsing", "packaging", "pytest", "hypothesis", "ruff", "setuptools", "pip",
        "pkg_resources", "wheel", "attr", "attrs", "requests", "urllib3", "certifi", "idna", "click", "celery",
        "redis", "psycopg", "psycopg2", "rest_framework", "generator", "experiments", "tests", "config",
        "templates", "static", "media", "site", "manage", "conftest", "benchmarks", "results", "migrations",
    }
)  # fmt: skip
MODULE_RESERVED = frozenset(name.lower() for name in sys.stdlib_module_names) | KNOWN_PACKAGES

# Names the generated models define themselves; fields must not shadow them.
GENERATED_MEMBERS = frozenset({"display_label", "as_dict", "get_absolute_url", "created_at", "updated_at"})
# Fields are assigned in the class body, where ``models``, ``uuid`` and builtins such as ``property`` must
# keep their meaning.
FIELD_RESERVED = MODEL_RESERVED | GENERATED_MEMBERS | frozenset(dir(builtins)) | {"models", "uuid"}
# Names the generated modules bind next to the imported model classes; a model named ``Count`` would shadow
# django.db.models.Count in services.py.
MODULE_LEVEL_NAMES = frozenset(
    {
        "Model", "Meta", "Count", "Sum", "Avg", "Q", "F", "HttpResponse", "ListView", "DetailView", "CreateView",
        "UpdateView", "PageTitleMixin", "LIBRARIES", "AppConfig", "models", "forms", "admin", "services", "views",
        "signals", "uuid", "csv", "io", "logging", "logger", "reverse", "reverse_lazy", "path", "receiver",
        "post_save", "pre_save", "render", "APPS", "home", "index",
    }
)  # fmt: skip

_FALLBACK = {"snake": "value", "camel": "Item", "label": "area"}
_WORD_SPLIT = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _words(raw: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    return [w.lower() for w in _WORD_SPLIT.split(ascii_text) if w]


def _join(words: list[str], case: Case) -> str:
    if case == "snake":
        return "_".join(words)
    if case == "camel":
        return "".join(w.capitalize() for w in words)
    return "".join(words)


def _with_suffix(base: str, n: int, case: Case) -> str:
    return f"{base}_{n}" if case == "snake" else f"{base}{n}"


def _is_forbidden(name: str, reserved_lower: Collection[str], taken_lower: Collection[str]) -> bool:
    lowered = name.lower()
    return (
        keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or lowered in reserved_lower
        or lowered in taken_lower
    )


def clean_name(
    raw: str,
    case: Case,
    *,
    reserved: Collection[str] = (),
    taken: Collection[str] = (),
) -> str:
    """Return a valid, safe identifier for ``raw``.

    ``snake`` → ``shipping_address`` (fields, related names), ``camel`` → ``InvoiceLine`` (models),
    ``label`` → ``billing`` (app labels: lowercase, no underscore, so ``<app>_<model>`` table names can never
    collide with ``<app>_<model>_<field>`` M2M tables).
    The result is ASCII, starts with a letter, has no ``__`` and no leading or trailing ``_``, is not a Python
    keyword, and matches none of ``reserved`` or ``taken`` (compared case-insensitively); clashes get a
    numeric suffix (``status_2``, ``Invoice2``, ``billing2``). Pure: same arguments, same answer.
    """
    return _clean(raw, case, frozenset(r.lower() for r in reserved), {t.lower() for t in taken})


def _clean(raw: str, case: Case, reserved_lower: Collection[str], taken_lower: Collection[str]) -> str:
    words = _words(raw)
    if words and words[0][0].isdigit():
        words.insert(0, "n")
    base = _join(words, case) or _FALLBACK[case]
    if not _is_forbidden(base, reserved_lower, taken_lower):
        return base
    n = 2
    while _is_forbidden(candidate := _with_suffix(base, n, case), reserved_lower, taken_lower):
        n += 1
    return candidate


class NameRegistry:
    """Names already used in one scope (a model's attributes, the project's index names, …)."""

    def __init__(self, case: Case, reserved: Collection[str] = ()):
        self.case = case
        self.reserved = frozenset(r.lower() for r in reserved)
        self._taken: set[str] = set()

    def claim(self, raw: str) -> str:
        """The cleaned name for ``raw``, now taken in this scope."""
        name = _clean(raw, self.case, self.reserved, self._taken)
        self._taken.add(name.lower())
        return name

    def reserve(self, name: str) -> None:
        """Mark an exact name as used (e.g. the ``<fk>_id`` column attribute Django adds)."""
        self._taken.add(name.lower())

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._taken


def plural(words: str) -> str:
    """English plural of a generated name's words: "category" → "categories", "box" → "boxes"."""
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    if words.endswith(("s", "x", "ch", "sh")):
        return words + "es"
    return words + "s"
