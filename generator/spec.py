"""Options → ProjectSpec: every decision about the project, made once, purely, from the seed.

Rendering reads the spec and decides nothing; the database builder reads only the files.
"""

from __future__ import annotations

import builtins
import hashlib
import random
from dataclasses import dataclass, field

from generator.graph import Edge, plan_relations
from generator.imports import IMPORT_CATALOGUE
from generator.names import MODEL_RESERVED, MODULE_RESERVED, NameRegistry, clean_name
from generator.options import GenOptions
from generator.vocabulary import ENTITIES, QUALIFIERS, area_words, entity_words, field_words

SCALAR_KIND_WEIGHTS = {
    "char": 18, "text": 7, "integer": 11, "decimal": 8, "boolean": 9, "date": 6, "datetime": 5, "email": 4,
    "url": 3, "uuid": 3, "json": 3, "choices": 10, "float": 4, "slug": 4,
}  # fmt: skip
CHOICE_WORDS = (
    "draft", "pending", "active", "approved", "rejected", "shipped", "delivered", "cancelled", "paid", "overdue",
    "open", "closed", "archived", "low", "medium", "high", "urgent", "internal", "public", "private",
)  # fmt: skip
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
# How real code names a field of each kind; {w} is a noun, {q} a qualifier.
FIELD_NAME_PATTERNS = {
    "char": ("{w}", "{w}", "{w}_name", "{w}_code", "{q}_{w}"),
    "text": ("description", "notes", "{w}_notes", "{w}_details", "body", "summary"),
    "integer": ("quantity", "{w}_count", "position", "{w}_level", "priority"),
    "decimal": ("amount", "price", "{w}_amount", "{w}_cost", "{w}_rate", "total"),
    "boolean": ("is_{w}", "has_{w}", "is_active", "is_published", "{w}_enabled"),
    "date": ("{w}_date", "due_date", "{w}_on", "start_date", "end_date"),
    "datetime": ("{w}_at", "published_at", "expires_at", "{q}_{w}_at"),
    "email": ("email", "{w}_email", "contact_email"),
    "url": ("website", "{w}_url", "{q}_url"),
    "uuid": ("public_id", "external_ref", "token"),
    "json": ("metadata", "{w}_data", "attributes", "extra"),
    "choices": ("status", "kind", "{w}_status", "{w}_type", "{q}_status"),
    "float": ("{w}_ratio", "weight", "{w}_score", "latitude", "longitude"),
    "slug": ("slug",),
}
SERVICE_SHAPES = ("summary", "score", "export", "validate", "snapshot")
# Rough rendered length of each service shape, to reach --loc-per-model.
SERVICE_SHAPE_LINES = {"summary": 9, "score": 12, "export": 11, "validate": 12, "snapshot": 12}


@dataclass
class FieldSpec:
    name: str
    kind: str
    model_def: str  # as written in models.py
    migration_def: str  # as written in 0001_initial.py
    verbose_name: str
    editable: bool = True
    choices: list[tuple[str, str, str]] | None = None  # (MEMBER, value, label)
    choices_class: str | None = None
    target: ModelSpec | None = None

    @property
    def is_relation(self) -> bool:
        return self.kind in ("fk", "o2o", "m2m")

    @property
    def is_forward_single(self) -> bool:
        return self.kind in ("fk", "o2o")


@dataclass
class ServiceSpec:
    shape: str
    name: str
    fields: list[str]
    number: int  # a constant that varies between functions


@dataclass
class ModelSpec:
    app_label: str
    name: str
    snake: str
    verbose_name: str
    verbose_name_plural: str
    number: int
    fields: list[FieldSpec] = field(default_factory=list)
    registry: NameRegistry | None = None
    indexes: list[tuple[str, list[str]]] = field(default_factory=list)
    unique_constraints: list[tuple[str, list[str]]] = field(default_factory=list)
    check_constraints: list[tuple[str, str]] = field(default_factory=list)  # (name, non-negative field)
    inlines: list[tuple[ModelSpec, str]] = field(default_factory=list)  # (child model, its fk name)
    services: list[ServiceSpec] = field(default_factory=list)
    timestamps: bool = False

    @property
    def lower(self) -> str:
        return self.name.lower()

    @property
    def url_segment(self) -> str:
        return self.snake.replace("_", "-")

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    def of_kind(self, *kinds: str) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind in kinds]

    @property
    def str_field(self) -> FieldSpec:
        return self.fields[0]

    @property
    def slug_field(self) -> FieldSpec | None:
        slugs = self.of_kind("slug")
        return slugs[0] if slugs else None

    @property
    def scalar_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if not f.is_relation]

    @property
    def form_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.editable]

    @property
    def display_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind not in ("m2m", "json", "text")][:5]

    @property
    def filter_fields(self) -> list[FieldSpec]:
        return self.of_kind("boolean", "choices", "date", "fk")[:3]

    @property
    def search_fields(self) -> list[FieldSpec]:
        return self.of_kind("char", "email", "slug")[:3]

    @property
    def select_related(self) -> list[str]:
        return [f.name for f in self.fields if f.is_forward_single][:4]

    @property
    def ordering(self) -> list[str]:
        return ["-created_at"] if self.timestamps else [self.str_field.name]


@dataclass
class AppSpec:
    label: str
    verbose_name: str
    number: int
    models: list[ModelSpec] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # by models.py: at start-up
    view_imports: list[str] = field(default_factory=list)  # by views.py: with the URLconf

    @property
    def needs_uuid(self) -> bool:
        return any(f.kind == "uuid" for m in self.models for f in m.fields)


@dataclass
class LibraryComponent:
    name: str  # CamelCase class
    snake: str
    title: str
    words: list[str]  # its attributes
    number: int
    works: bool  # does work at import (compiles a pattern)
    checks: int = 0  # then validates this many references with it at import (a working share above 1)


@dataclass
class LibraryModule:
    name: str  # module of the config.vendor package
    title: str
    components: list[LibraryComponent]

    @property
    def dotted(self) -> str:
        return f"config.vendor.{self.name}"


# What one component of generator/templates/project/library.py.j2 renders to (tests keep this honest).
LIBRARY_COMPONENT_LINES = 48
# Above a working share of 1, each unit more makes every component validate this many references at import.
CHECKS_PER_WORK = 200
LIBRARY_COMPONENTS_PER_MODULE = 12


@dataclass
class LibraryUse:
    """The start-up library modules every request uses (--view-touch-share)."""

    modules: list[LibraryModule]

    @property
    def components(self) -> int:
        return sum(len(module.components) for module in self.modules)


# Words of the per-process tables (--worker-init-work): enough for varied keys, few enough to render in one line.
PROCESS_TABLE_WORDS = 24


@dataclass
class ProjectSpec:
    options: GenOptions
    secret_key: str
    apps: list[AppSpec]
    edges: list[Edge]
    library: list[LibraryModule] = field(default_factory=list)
    library_use: LibraryUse | None = None  # None: requests use none of the start-up library
    process_table_words: list[str] = field(default_factory=list)  # empty: no per-process tables

    @property
    def models(self) -> list[ModelSpec]:
        return [m for app in self.apps for m in app.models]

    @property
    def realistic(self) -> bool:
        return self.options.is_realistic


def _rng(options: GenOptions, purpose: str) -> random.Random:
    return random.Random(f"{options.seed}:{purpose}")


def _short_hash(*parts: str) -> str:
    return hashlib.sha1(":".join(parts).encode()).hexdigest()[:10]


def _app_sizes(models: int, apps: int, rng: random.Random) -> list[int]:
    sizes = [1] * apps
    weights = [rng.uniform(0.4, 1.6) for _ in range(apps)]
    for index in rng.choices(range(apps), weights, k=models - apps):
        sizes[index] += 1
    return sizes


def _model_word(rng: random.Random, entities: tuple[str, ...]) -> str:
    noun = rng.choice(ENTITIES) if rng.random() < 0.6 else rng.choice(entities)
    return f"{rng.choice(QUALIFIERS)} {noun}" if rng.random() < 0.45 else noun


def _plural(words: str) -> str:
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    if words.endswith(("s", "x", "ch", "sh")):
        return words + "es"
    return words + "s"


def _scalar_field(kind: str, name: str, rng: random.Random, *, primary: bool) -> FieldSpec:
    verbose = name.replace("_", " ")
    vn = f'verbose_name="{verbose}"'
    if kind == "char":
        length = rng.choice((64, 120, 200))
        blank = "" if primary else ", blank=True"
        d = f"models.CharField(max_length={length}{blank}, {vn})"
        return FieldSpec(name, kind, d, d, verbose)
    simple = {
        "text": f"models.TextField(blank=True, {vn})",
        "integer": f"models.PositiveIntegerField(default=0, {vn})",
        "decimal": f"models.DecimalField(max_digits=12, decimal_places=2, default=0, {vn})",
        "boolean": f"models.BooleanField(default={rng.choice(('False', 'True'))}, {vn})",
        "date": f"models.DateField(null=True, blank=True, {vn})",
        "datetime": f"models.DateTimeField(null=True, blank=True, {vn})",
        "email": f"models.EmailField(blank=True, {vn})",
        "url": f"models.URLField(blank=True, {vn})",
        "slug": f"models.SlugField(max_length=80, unique=True, {vn})",
        "json": f"models.JSONField(default=dict, blank=True, {vn})",
        "float": f"models.FloatField(default=0.0, {vn})",
    }
    if kind in simple:
        return FieldSpec(name, kind, simple[kind], simple[kind], verbose)
    if kind == "uuid":
        d = f"models.UUIDField(default=uuid.uuid4, editable=False, unique=True, {vn})"
        return FieldSpec(name, kind, d, d, verbose, editable=False)
    if kind == "choices":
        values = rng.sample(CHOICE_WORDS, rng.randint(3, 6))
        choices = [(v.upper(), v, v.capitalize()) for v in values]
        class_name = clean_name(name, "camel") + "Choices"
        model_def = (
            f"models.CharField(max_length=20, choices={class_name}.choices, "
            f"default={class_name}.{choices[0][0]}, {vn})"
        )
        literal = ", ".join(f'("{v}", "{label}")' for _, v, label in choices)
        migration_def = f'models.CharField(max_length=20, choices=[{literal}], default="{values[0]}", {vn})'
        return FieldSpec(
            name, kind, model_def, migration_def, verbose, choices=choices, choices_class=class_name
        )
    raise ValueError(f"unknown field kind {kind!r}")


def _timestamp_fields() -> list[FieldSpec]:
    created = 'models.DateTimeField(auto_now_add=True, verbose_name="created at")'
    updated = 'models.DateTimeField(auto_now=True, verbose_name="updated at")'
    return [
        FieldSpec("created_at", "created", created, created, "created at", editable=False),
        FieldSpec("updated_at", "updated", updated, updated, "updated at", editable=False),
    ]


def _build_scalar_fields(
    model: ModelSpec, options: GenOptions, rng: random.Random, words: tuple[str, ...]
) -> None:
    registry = model.registry
    mean = options.fields_per_model
    count = max(1, round(rng.gauss(mean, mean * 0.3)))
    kinds = list(SCALAR_KIND_WEIGHTS)
    weights = list(SCALAR_KIND_WEIGHTS.values())
    primary = registry.claim(rng.choice(("name", "title", "label", "code", "reference", "subject")))
    model.fields.append(_scalar_field("char", primary, rng, primary=True))
    once = {"slug", "uuid"}
    for _ in range(count - 1):
        kind = rng.choices(kinds, weights)[0]
        already_has_one = kind in once and any(f.kind == kind for f in model.fields)
        if already_has_one or (kind == "slug" and not options.is_realistic):
            kind = "char"
        raw = rng.choice(FIELD_NAME_PATTERNS[kind]).format(w=rng.choice(words), q=rng.choice(QUALIFIERS))
        model.fields.append(_scalar_field(kind, registry.claim(raw), rng, primary=False))
    if options.is_realistic:
        model.timestamps = True
        model.fields.extend(_timestamp_fields())


def _relation_field(edge: Edge, source: ModelSpec, target: ModelSpec, rng: random.Random) -> FieldSpec:
    raw = target.snake if rng.random() < 0.6 else f"{rng.choice(QUALIFIERS)} {target.snake}"
    if edge.kind == "m2m":
        raw = _plural(raw)
    name = source.registry.claim(raw)
    if edge.kind != "m2m":
        source.registry.reserve(f"{name}_id")
    related = target.registry.claim(_plural(source.snake) if edge.kind != "o2o" else source.snake)
    verbose = name.replace("_", " ")
    ref = f'"{target.label}"'
    common = f'related_name="{related}", verbose_name="{verbose}"'
    if edge.kind == "m2m":
        d = f"models.ManyToManyField({ref}, blank=True, {common})"
    elif edge.kind == "o2o":
        d = f"models.OneToOneField({ref}, on_delete=models.CASCADE, {common})"
    elif rng.random() < 0.3:
        d = f"models.ForeignKey({ref}, on_delete=models.SET_NULL, null=True, blank=True, {common})"
    else:
        d = f"models.ForeignKey({ref}, on_delete={rng.choice(('models.CASCADE', 'models.PROTECT'))}, {common})"
    return FieldSpec(name, edge.kind, d, d, verbose, target=target)


def _build_meta(model: ModelSpec, rng: random.Random, constraint_names: NameRegistry) -> None:
    """Indexes and constraints: names are unique across the whole database, as Django requires."""
    indexable = [f.name for f in model.fields if f.kind in ("char", "date", "datetime", "choices", "integer")]
    for field_name in rng.sample(indexable, min(len(indexable), rng.randint(0, 2))):
        name = constraint_names.claim(f"ix_{_short_hash(model.label, field_name)}")
        model.indexes.append((name, [field_name]))
    chars = [f.name for f in model.of_kind("char")[1:]]
    if chars and rng.random() < 0.35:
        field_name = rng.choice(chars)
        model.unique_constraints.append(
            (constraint_names.claim(f"uq_{_short_hash(model.label, field_name)}"), [field_name])
        )
    integers = [f.name for f in model.of_kind("integer", "decimal", "float")]
    if integers and rng.random() < 0.5:
        field_name = rng.choice(integers)
        model.check_constraints.append(
            (constraint_names.claim(f"ck_{_short_hash(model.label, field_name)}"), field_name)
        )


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

    app_labels = NameRegistry("label", reserved=MODULE_RESERVED)
    model_names = NameRegistry("camel", reserved=MODULE_LEVEL_NAMES)
    constraint_names = NameRegistry("snake")
    areas, entities, words = area_words(), entity_words(), field_words()

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
                label, name, snake, verbose, _plural(verbose), len(models),
                registry=NameRegistry("snake", reserved=FIELD_RESERVED),
            )  # fmt: skip
            _build_scalar_fields(model, options, fields_rng, words)
            app.models.append(model)
            models.append(model)
            app_of_model.append(app_number)
        apps.append(app)

    edges = plan_relations(app_of_model, options.relations_per_model, graph_rng)
    for edge in edges:
        source, target = models[edge.source], models[edge.target]
        source.fields.append(_relation_field(edge, source, target, fields_rng))
        if (
            target.app_label != source.app_label
            and target.app_label not in apps[app_of_model[edge.source]].dependencies
        ):
            apps[app_of_model[edge.source]].dependencies.append(target.app_label)

    for model in models:
        _build_meta(model, fields_rng, constraint_names)
        _build_services(model, options, fields_rng)
    if options.is_realistic:
        _attach_inlines(models)
    library_rng, module_names = _rng(options, "library"), NameRegistry("snake", reserved=MODULE_RESERVED)
    startup_library = _build_library(
        options.library_loc, options.library_work, library_rng, words, module_names
    )
    view_library = _build_library(
        options.view_library_loc, options.view_library_work, library_rng, words, module_names
    )
    imported = [*IMPORT_CATALOGUE[: options.imports], *(module.dotted for module in startup_library)]
    for index, module in enumerate(imported):
        apps[index % len(apps)].imports.append(module)
    for index, module in enumerate(view_library):
        apps[index % len(apps)].view_imports.append(module.dotted)
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


def _build_library(
    loc: int, work: float, rng: random.Random, words: tuple[str, ...], module_names: NameRegistry
) -> list[LibraryModule]:
    """Modules of about ``loc`` lines in all: weight that does not grow with the model count.

    A share ``work`` of the components, spread evenly, compiles a regular expression at import: that sets how
    much time the library costs per MB it occupies, which differs between real projects. Above 1 every component
    compiles one and also validates references with it, ``CHECKS_PER_WORK`` per unit above 1: time that leaves
    little garbage behind (compiling does, and its freed holes are what a forked worker's new objects dirty).
    """
    checks = round((work - 1) * CHECKS_PER_WORK) if work > 1 else 0
    components = -(-loc // LIBRARY_COMPONENT_LINES)  # ceiling
    class_names = NameRegistry("camel", reserved=MODULE_LEVEL_NAMES)
    modules: list[LibraryModule] = []
    for start in range(0, components, LIBRARY_COMPONENTS_PER_MODULE):
        title = f"{rng.choice(words)} {rng.choice(('tools', 'kit', 'utils', 'core', 'helpers'))}"
        module = LibraryModule(module_names.claim(title), title.capitalize(), [])
        for number in range(start, min(components, start + LIBRARY_COMPONENTS_PER_MODULE)):
            title = f"{rng.choice(words)} {rng.choice(words)}"
            name = class_names.claim(title)
            attributes = NameRegistry("snake", reserved=FIELD_RESERVED)
            module.components.append(
                LibraryComponent(
                    name=name,
                    snake=clean_name(name, "snake"),
                    title=title,
                    words=[attributes.claim(rng.choice(words)) for _ in range(4)],
                    number=number % 89 + 2,
                    works=int((number + 1) * work) > int(number * work),
                    checks=checks,
                )
            )
        modules.append(module)
    return modules


def _attach_inlines(models: list[ModelSpec]) -> None:
    """Admin inlines: a parent shows up to two same-app children that point at it with a ForeignKey."""
    for child in models:
        for f in child.of_kind("fk"):
            parent = f.target
            if parent.app_label == child.app_label and len(parent.inlines) < 2 and parent is not child:
                parent.inlines.append((child, f.name))
