"""Progress bar with ETA, as a string; the CLI writes it to stderr."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """ETA = estimated seconds left × (actual / estimated seconds of the runs done so far)."""

    def __init__(self, total: int, estimates: list[float], width: int = 24):
        self.total = total
        self.estimates = estimates
        self.width = width
        self.done = 0
        self.elapsed = 0.0

    def advance(self, elapsed_s: float) -> None:
        self.done += 1
        self.elapsed += elapsed_s

    def eta_s(self) -> float:
        left = sum(self.estimates[self.done :])
        spent_estimate = sum(self.estimates[: self.done])
        if self.done and spent_estimate > 0:
            left *= self.elapsed / spent_estimate
        return left

    def line(self, current: str = "") -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        text = (
            f"[{bar}] {self.done}/{self.total} {fraction:4.0%}  "
            f"elapsed {format_duration(self.elapsed)}  ETA {format_duration(self.eta_s())}"
        )
        return f"{text}  {current}" if current else text
