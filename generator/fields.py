"""A model's fields, named as real code names them: scalar fields by weighted kind, timestamps, relation fields
from the graph's edges, and the indexes and constraints over them (named uniquely across the database)."""

from __future__ import annotations

import hashlib
import random

from generator.graph import Edge
from generator.names import NameRegistry, clean_name, plural
from generator.options import GenOptions
from generator.spec_types import FieldSpec, ModelSpec
from generator.vocabulary import QUALIFIERS

SCALAR_KIND_WEIGHTS = {
    "char": 18, "text": 7, "integer": 11, "decimal": 8, "boolean": 9, "date": 6, "datetime": 5, "email": 4,
    "url": 3, "uuid": 3, "json": 3, "choices": 10, "float": 4, "slug": 4,
}  # fmt: skip
CHOICE_WORDS = (
    "draft", "pending", "active", "approved", "rejected", "shipped", "delivered", "cancelled", "paid", "overdue",
    "open", "closed", "archived", "low", "medium", "high", "urgent", "internal", "public", "private",
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


def _short_hash(*parts: str) -> str:
    return hashlib.sha1(":".join(parts).encode()).hexdigest()[:10]


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


def build_scalar_fields(
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


def relation_field(edge: Edge, source: ModelSpec, target: ModelSpec, rng: random.Random) -> FieldSpec:
    raw = target.snake if rng.random() < 0.6 else f"{rng.choice(QUALIFIERS)} {target.snake}"
    if edge.kind == "m2m":
        raw = plural(raw)
    name = source.registry.claim(raw)
    if edge.kind != "m2m":
        source.registry.reserve(f"{name}_id")
    related = target.registry.claim(plural(source.snake) if edge.kind != "o2o" else source.snake)
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


def build_meta(model: ModelSpec, rng: random.Random, constraint_names: NameRegistry) -> None:
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
