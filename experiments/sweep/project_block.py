"""A sweep's ``project:`` blocks: generated projects (generator options, each list swept) or existing ones
(path, WSGI callable, environment, interpreter), each with a label that names it in the CSV."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from experiments.databases.base import KINDS, DatabaseSettings
from experiments.errors import ExperimentError
from experiments.hashing import short_hash
from experiments.sweep.checker import Checker, kind_of
from experiments.sweep.keys import DATABASE_KEYS, EXISTING_KEYS
from experiments.sweep.spec import ProjectSpec


def generated_projects(check: Checker, raw: dict, key: str = "project") -> list[ProjectSpec]:
    try:
        from generator.errors import OptionError
        from generator.options import OPTION_NAMES, resolve_options
    except ImportError as exc:  # pragma: no cover - the generator ships with this package
        raise ExperimentError(f"the project generator is not available: {exc}") from None
    allowed = (*OPTION_NAMES, "urls", "name", *DATABASE_KEYS)
    check.known(key, raw, allowed)
    if "models" not in raw:
        raise check.error(key, "needs either 'path' (an existing project) or 'models' (a generated one)")
    urls = check.url_list(f"{key}.urls", raw["urls"]) if "urls" in raw else ()
    given_name = check.text(f"{key}.name", raw["name"]) if "name" in raw else None
    choices: dict[str, list] = {}
    for name, value in raw.items():
        if name in ("urls", "name"):
            continue
        if isinstance(value, dict):
            raise check.error(f"{key}.{name}", "expected a value or a list of values, got a mapping")
        choices[name] = check.swept(f"{key}.{name}", value, lambda _k, v: v)
    projects = []
    for combo in check.product(key, choices):
        database = _database_settings(
            check, key, {name: combo.pop(name) for name in DATABASE_KEYS if name in combo}
        )
        try:
            options = resolve_options(**combo)
        except OptionError as exc:
            name = exc.option.lstrip("-").replace("-", "_")
            message = str(exc).split(": ", 1)[-1]
            raise check.error(f"{key}.{name}", message) from None
        except ImportError as exc:  # pragma: no cover - generator half-installed
            raise ExperimentError(f"the project generator is not available: {exc}") from None
        items = tuple(sorted(options.as_dict().items()))
        label = given_name or _generated_label(options, set(combo))
        if database.tag() and not given_name:
            label += "-" + database.tag()
        projects.append(
            ProjectSpec(kind="generated", label=label, options=items, urls=urls, database=database)
        )
    if given_name and len(projects) > 1:
        raise check.error(
            f"{key}.name",
            f"names one project, but the block sweeps {len(projects)}: drop the list or the name",
        )
    return projects


def _generated_label(options, given: set[str]) -> str:
    """``<profile>-m<models>-s<seed>``, then a hash of the other options the sweep sets, when they change the
    project: the hash leaves the size out, so that every size of one option set shares the label but its
    ``-m<models>-`` (the analysis joins them into a series: ``stats.series_of``)."""
    from generator.options import resolve_options

    resolved = options.as_dict()
    default = resolve_options(options.models, profile=options.profile, seed=options.seed).as_dict()
    # apps' default follows the model count: an app count the sweep sets is an option at every size, even
    # at the one where it happens to equal the default
    changed = {
        name: resolved[name]
        for name in sorted(given - {"models", "profile", "seed"})
        if name == "apps" or resolved[name] != default[name]
    }
    label = f"{options.profile}-m{options.models}-s{options.seed}"
    return f"{label}-{short_hash(changed, 6)}" if changed else label


def _database_settings(check: Checker, key: str, raw: dict) -> DatabaseSettings:
    """One combination of ``database``, ``conn_max_age`` and ``pool``, checked together."""
    kind = raw.get("database", "sqlite")
    if kind not in KINDS:
        raise check.error(f"{key}.database", f"unknown database {kind!r}; choose from {', '.join(KINDS)}")
    age = raw.get("conn_max_age", 0)
    if isinstance(age, str) and age.lower() == "none":
        age = None
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise check.error(f"{key}.conn_max_age", f"expected whole seconds (≥ 0) or none, got {age!r}")
    pool = raw.get("pool", False)
    if pool is not True and pool is not False and (not isinstance(pool, int) or pool < 1):
        raise check.error(f"{key}.pool", f"expected false, true or a pool size (≥ 1), got {pool!r}")
    if pool is not False and kind != "postgresql":
        raise check.error(f"{key}.pool", "Django's connection pool needs database: postgresql")
    if pool is not False and age != 0:
        raise check.error(f"{key}.pool", f"Django's pool cannot be combined with conn_max_age {age} (use 0)")
    return DatabaseSettings(kind=kind, conn_max_age=age, pool=pool)


def existing_projects(
    check: Checker, raw: dict, base_dir: Path, key: str = "project", axis: bool = False
) -> list[ProjectSpec]:
    """The projects of an existing project's block; ``axis``: the sweep sets the top-level ``python``."""
    check.known(key, raw, EXISTING_KEYS)

    def a_path(where: str, value: Any) -> str:
        path = Path(check.text(where, value)).expanduser()
        path = (base_dir / path).resolve() if not path.is_absolute() else path.resolve()
        if not path.is_dir():
            raise check.error(where, f"no such directory: {path}")
        return str(path)

    def a_wsgi(where: str, value: Any) -> str:
        value = check.text(where, value)
        module, _, attr = value.partition(":")
        if (
            not module
            or not all(part.isidentifier() for part in module.split("."))
            or (attr and not attr.isidentifier())
        ):
            raise check.error(where, f"expected 'package.module:callable', got {value!r}")
        return value

    paths = check.swept(f"{key}.path", raw["path"], a_path)
    # no wsgi: the project's settings name it (WSGI_APPLICATION), read when the project is prepared
    wsgis = check.swept(f"{key}.wsgi", raw["wsgi"], a_wsgi) if "wsgi" in raw else [""]
    envs = _environments(check, key, raw)
    urls = check.url_list(f"{key}.urls", raw["urls"]) if "urls" in raw else ()
    name = check.text(f"{key}.name", raw["name"]) if "name" in raw else None
    python = _own_python(check, key, raw, base_dir, axis)
    requirements, digest = _requirements(check, key, raw, base_dir, axis)
    projects = []
    for combo in check.product(key, {"path": paths, "wsgi": wsgis, "env": envs}):
        path, wsgi, env = combo["path"], combo["wsgi"], combo["env"]
        if not wsgi:
            env = _with_settings(check, key, path, env)
        label = name or Path(path).name
        projects.append(
            ProjectSpec(
                kind="existing",
                label=label,
                path=path,
                wsgi=wsgi,
                env=tuple(sorted(env.items())),
                urls=urls,
                python=python,
                requirements=requirements,
                requirements_sha=digest,
            )
        )
    return projects


def _environments(check: Checker, key: str, raw: dict) -> list[dict]:
    """Every combination of the block's ``env`` values (a list as a value is swept)."""
    if "env" not in raw:
        return [{}]
    env = check.mapping(f"{key}.env", raw["env"])

    def a_value(where: str, value: Any) -> str:
        if isinstance(value, dict | list) or value is None:
            raise check.error(where, f"expected a string or number, got {kind_of(value)}")
        return str(value).lower() if isinstance(value, bool) else str(value)

    return check.product(
        f"{key}.env", {str(k): check.swept(f"{key}.env.{k}", v, a_value) for k, v in env.items()}
    )


def _own_python(check: Checker, key: str, raw: dict, base_dir: Path, axis: bool) -> str:
    """The interpreter of the project's own virtualenv (``python``); empty: ours, or the python axis's."""
    if "python" not in raw:
        return ""
    if axis:
        raise check.error(
            f"{key}.python",
            "a project's own interpreter and the top-level python axis exclude each other: drop one",
        )
    return _interpreter(check, f"{key}.python", raw["python"], base_dir)


def _requirements(check: Checker, key: str, raw: dict, base_dir: Path, axis: bool) -> tuple[str, str]:
    """An existing project's requirements file (installed in each runtime of the python axis) and its
    content's hash; ("", "") without one."""
    if "requirements" not in raw:
        return "", ""
    where = f"{key}.requirements"
    if not axis:
        raise check.error(
            where,
            "needs the top-level python axis (a runtime environment per interpreter); without it the project "
            "runs on this runner's interpreter, or on its own (python)",
        )
    path = Path(check.text(where, raw["requirements"])).expanduser()
    path = (path if path.is_absolute() else base_dir / path).resolve()
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise check.error(where, f"cannot read {path}: {exc.strerror}") from None
    return str(path), hashlib.sha256(content).hexdigest()


def _with_settings(check: Checker, key: str, path: str, env: dict) -> dict:
    """Without ``wsgi``, the settings' WSGI_APPLICATION names it: the settings module must be known."""
    if "DJANGO_SETTINGS_MODULE" in env:
        return env
    settings = settings_in_manage(Path(path))
    if not settings:
        raise check.error(
            f"{key}.wsgi",
            f"not given, and neither {key}.env nor {path}/manage.py names DJANGO_SETTINGS_MODULE "
            "(whose WSGI_APPLICATION would name it)",
        )
    return {**env, "DJANGO_SETTINGS_MODULE": settings}


def settings_in_manage(root: Path) -> str:
    """The settings module a project's manage.py names (``os.environ.setdefault("DJANGO_SETTINGS_MODULE", …)``);
    empty when there is no manage.py or it names none."""
    from generator.inspect_project import settings_in_manage as read

    return read(root / "manage.py")


def _interpreter(check: Checker, key: str, value: Any, base_dir: Path) -> str:
    """An executable Python of a project's own virtualenv, e.g. ``../venvs/wiki/bin/python``; kept as given
    (absolute), not resolved: a virtualenv's python is a symlink and resolving it would leave the venv."""
    path = Path(check.text(key, value)).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file() or not os.access(path, os.X_OK):
        raise check.error(key, f"no executable interpreter at {path}")
    return os.path.normpath(path)


def check_distinct(check: Checker, key: str, earlier: list[ProjectSpec], found: list[ProjectSpec]) -> None:
    """Two labels for one project would give their runs the same ids: a name is a label, not a difference."""
    labels = {project.key(): project.label for project in earlier}
    for project in found:
        other = labels.get(project.key(), project.label)
        if other != project.label:
            raise check.error(
                key, f"measures the same project as {other!r}: give it other options or drop it"
            )
