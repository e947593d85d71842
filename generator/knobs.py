"""The knobs ``--like`` fits: each generator option, the target figure it moves, its first guess of the slope,
its bounds and tolerance, and what must fit before it moves; and the targets, read from probed profiles (memory
from the first probe, seconds the median of all)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from generator.inspect_project import ModeFigures, ProjectProfile
from generator.options import (
    MAX_LIBRARY_LOC,
    MAX_LIBRARY_OBJECTS,
    MAX_LIBRARY_WORK,
    MAX_REQUEST_GROWTH_KB,
    MAX_REQUEST_OBJECTS,
    MAX_VIEW_FIRST_WORK,
    MAX_WORKER_INIT_WORK,
)

FIT_TOLERANCE = 0.03  # on memory, which is deterministic
MB_ABSOLUTE = 0.5  # a memory difference this small fits whatever the ratio (readings vary by ~0.2 MB)
TIME_TOLERANCE = 0.15  # on seconds, which are not
# Young collections per request: counted, not timed; half a collection a request is what two runs of one
# project differ by when its requests allocate little.
RHYTHM_TOLERANCE, RHYTHM_ABSOLUTE = 0.10, 0.5
# A first guess: CPython 3.11 and 3.12 collect the youngest generation per 700 containers (3.13: per 2,000).
YOUNG_PER_OBJECT = 1 / 700
# Objects in the oldest generation: what two start-ups of one project differ by.
INHERITED_ABSOLUTE = 5000
GROWTH_TOLERANCE, GROWTH_ABSOLUTE = (
    0.15,
    0.15,
)  # MB per 1,000 requests: a difference of a few pages over 2,000


@dataclass(frozen=True)
class Knob:
    """One generator option, the target figure it moves, and how."""

    name: str
    target: str
    guess: float  # first guess of d(target)/d(knob) on this generator; each round re-measures it
    maximum: float
    tolerance: float
    absolute: float  # a difference this small fits whatever the ratio: small values are noise
    after: tuple[str, ...] = ()  # targets that must fit before this knob moves
    whole: bool = False
    needs: str = ""  # an option that must be non-zero for this knob to act; the guess is per 1,000 of it
    held_by: str = ""  # an option that must be non-zero for this knob to act; the guess stands alone
    unless: str = ""  # an option that must be zero for this knob to act (another knob then moves its target)

    @property
    def gate(self) -> str:
        return self.needs or self.held_by

    @property
    def timed(self) -> bool:
        return self.tolerance == TIME_TOLERANCE


KNOBS = (
    Knob("library_loc", "startup_mb", 0.19 / 1000, MAX_LIBRARY_LOC, FIT_TOLERANCE, MB_ABSOLUTE, whole=True),
    Knob(
        "view_library_loc",
        "first_request_mb",
        0.19 / 1000,
        MAX_LIBRARY_LOC,
        FIT_TOLERANCE,
        MB_ABSOLUTE,
        whole=True,
    ),
    # The collector's rhythm: how many containers a request holds sets how often a worker collects its young
    # generation, and so when its first full collection writes into every object the master shared. Read in
    # prewarm, where the master already served every URL: what is left is what each request allocates.
    Knob(
        "request_objects",
        "prewarm_young_per_request",
        YOUNG_PER_OBJECT,
        MAX_REQUEST_OBJECTS,
        RHYTHM_TOLERANCE,
        RHYTHM_ABSOLUTE,
        whole=True,
    ),
    # The population a worker inherits in its oldest generation: a full collection waits until a quarter as many
    # again have aged into it. Containers kept by the start-up library; they weigh too, so placement fits first.
    Knob(
        "library_objects",
        "prefork_inherited_objects",
        1.0,
        MAX_LIBRARY_OBJECTS,
        RHYTHM_TOLERANCE,
        INHERITED_ABSOLUTE,
        after=("startup_mb",),
        whole=True,
        held_by="library_loc",
    ),
    # What the twin's workers dirty of the start-up library, beside what their own full collections make private:
    # MB per unit of share, per 1,000 lines of it. Read in prewarm, once the rhythm fits.
    Knob(
        "view_touch_share",
        "prewarm_uss_mb",
        0.075,
        1.0,
        FIT_TOLERANCE,
        MB_ABSOLUTE,
        after=("startup_mb", "first_request_mb", "prewarm_young_per_request"),
        needs="library_loc",
    ),
    # Seconds per unit of working share, per 1,000 lines. Above 1 the library also validates at import, time
    # without memory: what apps' ready() spends in a project such as Nautobot.
    Knob(
        "library_work",
        "startup_s",
        0.003,
        MAX_LIBRARY_WORK,
        TIME_TOLERANCE,
        0.05,
        after=("startup_mb",),
        needs="library_loc",
    ),
    # Milliseconds per entry a view builds on its first visit; read on the URLs after the first in the prewarm
    # master's warm-up (the first one also pays for the URLconf and the process's tables).
    Knob("view_first_work", "other_url_ms", 0.03, MAX_VIEW_FIRST_WORK, TIME_TOLERANCE, 5.0, whole=True),
    Knob(
        "view_library_work",
        "first_request_ms",
        3.0,
        MAX_LIBRARY_WORK,
        TIME_TOLERANCE,
        10.0,
        after=("first_request_mb", "other_url_ms"),
        needs="view_library_loc",
    ),
    # Without a views' library (its lines 0: nothing for the knob above to work), what the first request builds
    # once: milliseconds per entry.
    Knob(
        "first_request_work",
        "first_request_ms",
        0.03,
        MAX_WORKER_INIT_WORK,
        TIME_TOLERANCE,
        10.0,
        after=("other_url_ms", "prewarm_first_ms"),
        whole=True,
        unless="view_library_loc",
    ),
    # Milliseconds per table entry built; it adds memory to the first request too, so it moves before placement fits.
    Knob("worker_init_work", "prewarm_first_ms", 0.08, MAX_WORKER_INIT_WORK, TIME_TOLERANCE, 5.0, whole=True),
    # MB per 1,000 requests per KB per 1,000 requests: what is kept, less than what is allocated (reused holes)
    Knob(
        "request_growth_kb",
        "lazy_growth_mb_per_1k",
        0.00077,
        MAX_REQUEST_GROWTH_KB,
        GROWTH_TOLERANCE,
        GROWTH_ABSOLUTE,
    ),
)


def targets(profile: ProjectProfile) -> dict[str, float]:
    """The figures the knobs fit, from a profile probed in every mode."""
    prefork, prewarm = profile.mode("prefork"), profile.mode("prewarm")
    return {
        "startup_mb": prefork.load_mb,
        "first_request_mb": profile.first_request.mb_added,
        "prewarm_young_per_request": prewarm.young_per_request or 0.0,
        "prefork_inherited_objects": float(prefork.inherited_objects or 0),
        "prewarm_uss_mb": prewarm.uss_mb,
        "startup_s": prefork.load_s,
        "first_request_ms": prefork.first_ms,
        "prewarm_first_ms": prewarm.first_ms,
        "other_url_ms": prewarm.other_url_ms or 0.0,
        "lazy_growth_mb_per_1k": profile.mode("lazy").growth_mb_per_1k or 0.0,
    }


def median_targets(profiles: list[ProjectProfile]) -> dict[str, float]:
    """Memory from the first probe (it does not vary), seconds the median over all probes."""
    each = [targets(p) for p in profiles]
    timed = {knob.target for knob in KNOBS if knob.timed}
    return {
        name: statistics.median(t[name] for t in each) if name in timed else value
        for name, value in each[0].items()
    }


def median_modes(profiles: list[ProjectProfile]) -> tuple[ModeFigures, ...]:
    """Per mode: memory from the first probe, seconds the median over all probes."""
    medians = []
    for first in profiles[0].modes:
        same = [p.mode(first.mode) for p in profiles]
        medians.append(
            replace(
                first,
                load_s=statistics.median(m.load_s for m in same),
                first_ms=statistics.median(m.first_ms for m in same),
                other_url_ms=_median_of_read([m.other_url_ms for m in same]),
            )
        )
    return tuple(medians)


def _median_of_read(values: list[float | None]) -> float | None:
    read = [v for v in values if v is not None]
    return statistics.median(read) if read else None


def close(value: float, target: float, knob: Knob) -> bool:
    return abs(value - target) <= max(knob.tolerance * target, knob.absolute)
