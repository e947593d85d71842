"""The project's library: modules of components that weigh what --library-loc says and work at import as much as
--library-work says, whatever the model count."""

from __future__ import annotations

import random

from generator.names import FIELD_RESERVED, MODULE_LEVEL_NAMES, NameRegistry, clean_name
from generator.spec_types import LibraryComponent, LibraryModule

# What one component of generator/templates/project/library.py.j2 renders to (tests keep this honest).
LIBRARY_COMPONENT_LINES = 48
# Above a working share of 1, each unit more makes every component validate this many references at import.
CHECKS_PER_WORK = 200
LIBRARY_COMPONENTS_PER_MODULE = 12


def build_library(
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


def spread_objects(modules: list[LibraryModule], objects: int) -> None:
    """Give the modules ``objects`` long-lived containers in all, as evenly as whole numbers allow."""
    for index, module in enumerate(modules):
        module.objects = objects // len(modules) + (index < objects % len(modules))
