"""The data a spec is made of: a project's apps, their models and fields, its library modules. Plain dataclasses,
filled once by ``spec.build_spec``; rendering reads them and decides nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.graph import Edge
from generator.names import NameRegistry
from generator.options import GenOptions


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
    objects: int = 0  # containers it builds at import and keeps (--library-objects, spread over the modules)

    @property
    def dotted(self) -> str:
        return f"config.vendor.{self.name}"


@dataclass
class LibraryUse:
    """The start-up library modules every request uses (--view-touch-share)."""

    modules: list[LibraryModule]

    @property
    def components(self) -> int:
        return sum(len(module.components) for module in self.modules)


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
