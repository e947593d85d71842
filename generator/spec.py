"""Options → ProjectSpec: every decision about the project, made once, purely, from the seed.

Rendering reads the spec and decides nothing; the database builder reads only the files. The spec's dataclasses
are in spec_types.py, a model's fields in fields.py, the library in library.py; ``build_spec`` makes them in
order, each from its own random stream.
"""

from __future__ import annotations

import hashlib
import random

from generator.fields import build_meta, build_scalar_fields, relation_field
from generator.graph import Edge, plan_relations
from generator.imports import IMPORT_CATALOGUE
from generator.library import build_library, spread_objects
from generator.names import (
    FIELD_RESERVED,
    MODULE_LEVEL_NAMES,
    MODULE_RESERVED,
    NameRegistry,
    clean_name,
    plural,
)
from generator.options import GenOptions
from generator.spec_types import (
    AppSpec,
    FieldSpec,
    LibraryComponent,
    LibraryModule,
    LibraryUse,
    ModelSpec,
    ProjectSpec,
    ServiceSpec,
)
from generator.vocabulary import ENTITIES, QUALIFIERS, area_words, entity_words, field_words

__all__ = [
    "FIELD_RESERVED",
    "AppSpec",
    "FieldSpec",
    "LibraryComponent",
    "LibraryModule",
    "LibraryUse",
    "ModelSpec",
    "ProjectSpec",
    "ServiceSpec",
    "build_spec",
]

SERVICE_SHAPES = ("summary", "score", "export", "validate", "snapshot")
# Rough rendered length of each service shape, to reach --loc-per-model.
SERVICE_SHAPE_LINES = {"summary": 9, "score": 12, "export": 11, "validate": 12, "snapshot": 12}

# Words of the per-process tables (--worker-init-work): enough for varied keys, few enough to render in one line.
PROCESS_TABLE_WORDS = 24


def _rng(options: GenOptions, purpose: str) -> random.Random:
    return random.Random(f"{options.seed}:{purpose}")


def _app_sizes(models: int, apps: int, rng: random.Random) -> list[int]:
    sizes = [1] * apps
    weights = [rng.uniform(0.4, 1.6) for _ in range(apps)]
    for index in rng.choices(range(apps), weights, k=models - apps):
        sizes[index] += 1
    return sizes


def _model_word(rng: random.Random, entities: tuple[str, ...]) -> str:
    noun = rng.choice(ENTITIES) if rng.random() < 0.6 else rng.choice(entities)
    return f"{rng.choice(QUALIFIERS)} {noun}" if rng.random() < 0.45 else noun


def _build_services(model: ModelSpec, options: GenOptions, rng: random.Random) -> None:
    """Business-logic functions until the model's service code reaches about --loc-per-model lines."""
    if not options.is_realistic:
        return
    scalar_names = [f.name for f in model.scalar_fields if f.editable] or [model.str_field.name]
    budget = options.loc_per_model
    registry = NameRegistry("snake")
    shapes = ["summary"]  # the detail view calls the first one
    lines = SERVICE_SHAPE_LINES["summary"]
    while lines < budget:
        shape = rng.choice(SERVICE_SHAPES)
        shapes.append(shape)
        lines += SERVICE_SHAPE_LINES[shape] + min(len(scalar_names), 4)
    verbs = {
        "summary": "summarize",
        "score": "score",
        "export": "export",
        "validate": "validate",
        "snapshot": "snapshot",
    }
    for shape in shapes:
        name = registry.claim(f"{verbs[shape]} {model.snake}")
        picked = rng.sample(scalar_names, min(len(scalar_names), rng.randint(2, 4)))
        model.services.append(ServiceSpec(shape, name, picked, rng.randint(2, 97)))


def build_spec(options: GenOptions) -> ProjectSpec:
    """Every name, field, relation and knob of the project, from the options alone."""
    names_rng = _rng(options, "names")
    fields_rng = _rng(options, "fields")
    graph_rng = _rng(options, "graph")
    secret_key = hashlib.sha256(f"django-prefork-lab:{options.seed}".encode()).hexdigest()
    words = field_words()
    apps, models, app_of_model = _build_apps(options, names_rng, fields_rng, words)
    edges = plan_relations(app_of_model, options.relations_per_model, graph_rng)
    _build_relations(edges, apps, models, app_of_model, fields_rng)
    constraint_names = NameRegistry("snake")
    for model in models:
        build_meta(model, fields_rng, constraint_names)
        _build_services(model, options, fields_rng)
    if options.is_realistic:
        _attach_inlines(models)
    startup_library, view_library = _build_libraries(options, apps, words)
    app_order = {app.label: app.number for app in apps}
    for app in apps:
        app.dependencies.sort(key=app_order.__getitem__)
    return ProjectSpec(
        options,
        secret_key,
        apps,
        edges,
        startup_library + view_library,
        library_use=_library_use(startup_library, options),
        process_table_words=_process_table_words(options, words),
    )


def _build_apps(
    options: GenOptions, names_rng: random.Random, fields_rng: random.Random, words: tuple[str, ...]
) -> tuple[list[AppSpec], list[ModelSpec], list[int]]:
    """The apps and their models with their scalar fields; the app of each model, by number."""
    app_labels = NameRegistry("label", reserved=MODULE_RESERVED)
    model_names = NameRegistry("camel", reserved=MODULE_LEVEL_NAMES)
    areas, entities = area_words(), entity_words()
    apps: list[AppSpec] = []
    models: list[ModelSpec] = []
    app_of_model: list[int] = []
    for app_number, size in enumerate(_app_sizes(options.models, options.apps, names_rng)):
        label = app_labels.claim(areas[app_number] if app_number < len(areas) else names_rng.choice(areas))
        app = AppSpec(label, label.capitalize(), app_number)
        for _ in range(size):
            name = model_names.claim(_model_word(names_rng, entities))
            snake = clean_name(name, "snake")
            verbose = snake.replace("_", " ")
            model = ModelSpec(
                label, name, snake, verbose, plural(verbose), len(models),
                registry=NameRegistry("snake", reserved=FIELD_RESERVED),
            )  # fmt: skip
            build_scalar_fields(model, options, fields_rng, words)
            app.models.append(model)
            models.append(model)
            app_of_model.append(app_number)
        apps.append(app)
    return apps, models, app_of_model


def _build_relations(
    edges: list[Edge],
    apps: list[AppSpec],
    models: list[ModelSpec],
    app_of_model: list[int],
    rng: random.Random,
) -> None:
    """A relation field per edge of the graph; an app depends on every other app its models point at."""
    for edge in edges:
        source, target = models[edge.source], models[edge.target]
        source.fields.append(relation_field(edge, source, target, rng))
        if (
            target.app_label != source.app_label
            and target.app_label not in apps[app_of_model[edge.source]].dependencies
        ):
            apps[app_of_model[edge.source]].dependencies.append(target.app_label)


def _build_libraries(
    options: GenOptions, apps: list[AppSpec], words: tuple[str, ...]
) -> tuple[list[LibraryModule], list[LibraryModule]]:
    """The start-up library (imported by the apps' models, with the catalogue's imports) and the views' library
    (imported with the URLconf), spread over the apps in turn."""
    library_rng, module_names = _rng(options, "library"), NameRegistry("snake", reserved=MODULE_RESERVED)
    startup_library = build_library(
        options.library_loc, options.library_work, library_rng, words, module_names
    )
    view_library = build_library(
        options.view_library_loc, options.view_library_work, library_rng, words, module_names
    )
    if startup_library:
        spread_objects(startup_library, options.library_objects)
    imported = [*IMPORT_CATALOGUE[: options.imports], *(module.dotted for module in startup_library)]
    for index, module in enumerate(imported):
        apps[index % len(apps)].imports.append(module)
    for index, module in enumerate(view_library):
        apps[index % len(apps)].view_imports.append(module.dotted)
    return startup_library, view_library


def _library_use(startup_library: list[LibraryModule], options: GenOptions) -> LibraryUse | None:
    """A seeded sample of whole start-up library modules, --view-touch-share of them (at least one), in order.

    Whole modules, because a module's objects sit together in memory: the pages a share of modules dirties grow
    with the share, where the same share of scattered components would dirty nearly every page. Its own random
    stream, so that the rest of the project is the same whatever the share.
    """
    if not options.view_touch_share or not startup_library:
        return None
    count = max(1, round(options.view_touch_share * len(startup_library)))
    chosen = set(_rng(options, "library-use").sample(range(len(startup_library)), count))
    return LibraryUse([module for index, module in enumerate(startup_library) if index in chosen])


def _process_table_words(options: GenOptions, words: tuple[str, ...]) -> list[str]:
    if not options.worker_init_work:
        return []
    return _rng(options, "process-tables").sample(sorted(set(words)), PROCESS_TABLE_WORDS)


def _attach_inlines(models: list[ModelSpec]) -> None:
    """Admin inlines: a parent shows up to two same-app children that point at it with a ForeignKey."""
    for child in models:
        for f in child.of_kind("fk"):
            parent = f.target
            if parent.app_label == child.app_label and len(parent.inlines) < 2 and parent is not child:
                parent.inlines.append((child, f.name))
