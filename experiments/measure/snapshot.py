"""The objects probe's writer: a snapshot of every object the master's collector tracks, just before fork.

Copied into a run directory as ``prefork_lab_snapshot.py`` beside the wrapper, only for the runs that take the
probe (``probes.objects``, modes that preload); the wrapper imports it then, and calls ``snapshot_objects`` in the
master before fork. Standalone: standard library only, never ``experiments``, no side effect at import. The
runner reads the snapshot (experiments/measure/objects.py, which takes the format's magic line from here).
"""

import gc
import json
import sys

SNAPSHOT_MAGIC = b"prefork-lab-objects 1\n"


def _owner(obj, kind, module_type, owned):
    """The module a function, class or module belongs to; "" for any other object (it has no such name).

    Asks the type, never ``isinstance(obj, …)``: that reads ``obj.__class__``, which a lazy proxy (Django's
    SimpleLazyObject) answers by evaluating itself in the master."""
    try:
        if issubclass(kind, module_type):
            name = obj.__dict__.get("__name__")
        elif issubclass(kind, owned):
            name = obj.__module__
        else:
            return ""
    except Exception:  # a class whose metaclass computes __module__ may raise anything
        return ""
    return name if isinstance(name, str) else ""


def _type_label(kind):
    try:
        module, qualname = kind.__module__, kind.__qualname__
    except Exception:  # a metaclass's own properties may raise
        return kind.__name__
    return qualname if module == "builtins" or not isinstance(module, str) else f"{module}.{qualname}"


def _write_snapshot(path):
    import array  # the probe's only import: a run without it imports nothing more
    import types

    objects = gc.get_objects()  # first: the snapshot's own containers are not in it
    addresses, sizes = array.array("Q"), array.array("Q")
    kinds, owners = array.array("I"), array.array("I")
    type_index, module_index = {}, {"": 0}
    owned = (type, types.FunctionType, types.BuiltinFunctionType)
    for obj in objects:
        kind = type(obj)
        addresses.append(id(obj))
        try:
            sizes.append(sys.getsizeof(obj))
        except Exception:  # a broken __sizeof__: the object still counts, with no bytes
            sizes.append(0)
        kinds.append(type_index.setdefault(kind, len(type_index)))
        owners.append(module_index.setdefault(_owner(obj, kind, types.ModuleType, owned), len(module_index)))
    header = {
        "count": len(addresses),
        "gc_head": 2 * array.array("L").itemsize,  # PyGC_Head: the two words before id() a collection writes
        "types": [_type_label(kind) for kind in type_index],
        "modules": list(module_index),
    }
    with open(path, "wb") as handle:
        handle.write(SNAPSHOT_MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n")
        for values in (addresses, sizes, kinds, owners):
            values.tofile(handle)


def snapshot_objects(path):
    """Write every object the collector tracks in this process (address, size, type, module) to ``path``.

    Called in the master just before fork. Nothing of the snapshot stays alive after it: everything it
    allocates is local to ``_write_snapshot`` and freed on return, before the frozen objects are frozen again.
    """
    enabled = gc.isenabled()
    gc.disable()  # our allocations must not set off a collection that a run without the probe would not have
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()  # get_objects() skips the permanent generation
    try:
        _write_snapshot(path)
    finally:
        if frozen:
            gc.freeze()
        if enabled:
            gc.enable()
