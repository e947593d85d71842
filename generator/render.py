"""ProjectSpec → {relative path: file text}. Templates live in generator/templates; this module only routes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from generator import __version__
from generator.database import CONN_MAX_AGE_ENV, POOL_ENV, URL_ENV
from generator.spec import ProjectSpec

TEMPLATE_DIR = Path(__file__).parent / "templates"


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    """One environment for Python files, one for Django HTML templates.

    The HTML one uses ``[[ ]]`` / ``[% %]`` so the Django tags it writes (``{{ }}``, ``{% %}``) pass through.
    """
    common = dict(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    python = jinja2.Environment(**common)
    html = jinja2.Environment(
        **common,
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
    )
    return python, html


def _render(template: str, **context) -> str:
    python, html = _environments()
    environment = html if template.startswith("html/") else python
    return environment.get_template(template).render(**context)


def render_project(spec: ProjectSpec) -> dict[str, str]:
    """Every source file of the project, keyed by POSIX path relative to the project root."""
    env = {"url": URL_ENV, "conn_max_age": CONN_MAX_AGE_ENV, "pool": POOL_ENV}
    ctx = {"project": spec, "version": __version__, "env": env}
    files = {
        "manage.py": _render("project/manage.py.j2", **ctx),
        "config/__init__.py": "",
        "config/settings/__init__.py": _render("project/settings_init.py.j2", **ctx),
        "config/settings/base.py": _render("project/settings_base.py.j2", **ctx),
        "config/settings/database.py": _render("project/settings_database.py.j2", **ctx),
        "config/urls.py": _render("project/urls.py.j2", **ctx),
        "config/views.py": _render("project/views.py.j2", **ctx),
        "config/wsgi.py": _render("project/wsgi.py.j2", **ctx),
    }
    if spec.library_use:
        files["config/library_use.py"] = _render("project/library_use.py.j2", **ctx)
    if spec.process_table_words:
        files["config/process_tables.py"] = _render("project/process_tables.py.j2", **ctx)
    if spec.options.request_growth_kb:
        files["config/request_cache.py"] = _render("project/request_cache.py.j2", **ctx)
    if spec.options.request_objects:
        files["config/request_objects.py"] = _render("project/request_objects.py.j2", **ctx)
    if spec.options.view_first_work or spec.options.first_request_work:
        files["config/first_visits.py"] = _render("project/first_visits.py.j2", **ctx)
    if spec.library:
        files["config/vendor/__init__.py"] = ""
    for module in spec.library:
        files[f"config/vendor/{module.name}.py"] = _render("project/library.py.j2", **ctx, module=module)
    if spec.realistic:
        files["templates/base.html"] = _render("html/base.html.j2", **ctx)
        files["templates/home.html"] = _render("html/home.html.j2", **ctx)
    for app in spec.apps:
        files.update(_render_app(spec, app, ctx))
    return files


def _render_app(spec: ProjectSpec, app, ctx: dict) -> dict[str, str]:
    ctx = {**ctx, "app": app}
    root = app.label
    modules = ["apps", "models", "views", "urls"]
    if spec.realistic:
        modules += ["admin", "forms", "services", "signals"]
    files = {f"{root}/__init__.py": "", f"{root}/migrations/__init__.py": ""}
    for module in modules:
        files[f"{root}/{module}.py"] = _render(f"app/{module}.py.j2", **ctx)
    files[f"{root}/migrations/0001_initial.py"] = _render("app/migration.py.j2", **ctx)
    if spec.realistic:
        for model in app.models:
            for kind in ("list", "detail", "form"):
                files[f"{root}/templates/{root}/{model.lower}_{kind}.html"] = _render(
                    f"html/{kind}.html.j2", **ctx, model=model
                )
    return files


def sample_urls(spec: ProjectSpec) -> list[str]:
    """One concrete path per generated URL pattern, each answering 200 once rows exist."""
    urls = ["/"]
    has_rows = spec.options.rows_per_model > 0
    for app in spec.apps:
        if not spec.realistic:
            urls.append(f"/{app.label}/")
            continue
        for model in app.models:
            base = f"/{app.label}/{model.url_segment}/"
            urls += [base, f"{base}new/"]
            if has_rows:
                urls += [f"{base}1/", f"{base}1/edit/"]
                if model.slug_field:
                    urls.append(f"{base}by-slug/{model.lower}-1/")
    return urls


def count_url_patterns(spec: ProjectSpec) -> int:
    if not spec.realistic:
        return 1 + len(spec.apps)
    return 1 + sum(4 + (1 if m.slug_field else 0) for m in spec.models)
