"""The results CSV: header on create, one row appended (flushed and fsynced) per finished run, resume ids.

Columns come from experiments.columns. Before anything is written the target is checked: it must be absent,
empty, or a regular file whose first line is a header of ours; anything else (a device, FIFO, socket,
directory, a file on /proc or /sys, a file of other content) is refused untouched. A file written before
columns were appended is migrated through a temporary file beside it; a file with other columns is refused
unless the caller starts over (--fresh). A torn last line (the runner killed mid-write) is dropped only once
the header has shown the file to be ours.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import stat
import tempfile
from pathlib import Path

from experiments.columns import COLUMN_NAMES
from experiments.errors import ExperimentError
from generator.output import on_kernel_filesystem

# Every results CSV of this tool, whatever its version, has these columns: what tells ours from a user's file.
OUR_MARKERS = ("run_id", "status")
HEADER_LIMIT = 1 << 16  # bytes of a first line worth reading; a longer one is no header of ours

NEW, CURRENT, OLDER, OTHER = "new", "current", "older", "other"

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def check_target(path: Path, label: str, what: str) -> os.stat_result | None:
    """The stat of ``path`` if it is a regular file, None if it is absent; ExperimentError otherwise.

    /proc and /sys report their files as regular (and empty): they are refused by device, since a write there
    reaches the kernel, not a disk. ``label`` names the option or key the path came from.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise ExperimentError(f"{label}: {path}: a parent of it is not a directory") from None
    except OSError as exc:
        raise ExperimentError(f"{label}: {path}: {exc.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise ExperimentError(f"{label}: {path} is {kind}, not {what}")
    if on_kernel_filesystem(path):
        raise ExperimentError(f"{label}: {path} is on /proc or /sys (a kernel filesystem), not {what}")
    return info


def write_atomically(path: Path, write, mode_from: os.stat_result | None = None) -> None:
    """Write through a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``write(handle)`` fills the text file. The temporary name is unique, so no file of the user's is touched;
    it is removed whatever happens before the rename. The file gets the permissions of ``mode_from`` (the file
    it replaces), else those of any new file (0666 less the umask), not the temporary file's private 0600.
    """
    handle_fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(handle_fd, "w", newline="", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        mode = stat.S_IMODE(mode_from.st_mode) if mode_from is not None else 0o666 & ~current_umask()
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (setting it to read it back would
    leave other threads a moment with another umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def drop_torn_line(path: Path) -> None:
    """A line cut short by a killed writer is dropped, so that the next append starts a line of its own."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if not data or data.endswith(b"\n"):
            return
        if b"\n" in data:
            handle.truncate(data.rfind(b"\n") + 1)
        else:  # only the header, without its newline: complete it
            handle.write(b"\n")


class ResultsCsv:
    def __init__(self, path: Path, label: str = "output"):
        self.path = Path(path)
        self.label = label  # the option or sweep key the path came from, for error messages

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def read_rows(self) -> list[dict[str, str]]:
        if not self.exists():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def done_ids(self) -> set[str]:
        """Run ids with a finished, successful row: a resumed sweep skips them (failed runs are retried)."""
        return {row["run_id"] for row in self.read_rows() if row.get("status") == "ok" and row.get("run_id")}

    def _header(self) -> list[str] | None:
        """The first line as CSV cells; None when it cannot be a header of ours (binary, endless)."""
        try:
            with open(self.path, "rb") as handle:
                first = handle.readline(HEADER_LIMIT)
        except OSError as exc:
            raise ExperimentError(f"{self.label}: {self.path}: {exc.strerror}") from None
        if len(first) >= HEADER_LIMIT:
            return None
        try:
            text = first.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return next(csv.reader([text.rstrip("\r\n")]), [])

    def check(self, fresh: bool = False) -> str:
        """What the target holds: NEW (absent or empty), CURRENT, OLDER (columns appended since) or OTHER
        (ours, other columns: allowed only with ``fresh``). Reads at most the first line; changes nothing."""
        info = check_target(self.path, self.label, "a results CSV")
        if info is None or info.st_size == 0:
            return NEW
        header = self._header()
        if header is None or not all(marker in header for marker in OUR_MARKERS):
            raise ExperimentError(
                f"{self.label}: {self.path} exists and is not a results CSV of run-experiments "
                "(its first line is not our header); choose another file"
            )
        if tuple(header) == COLUMN_NAMES:
            return CURRENT
        if tuple(header) == COLUMN_NAMES[: len(header)]:
            return OLDER
        if not fresh:
            raise ExperimentError(
                f"{self.label}: {self.path} was written with other columns; "
                "pass --fresh to start over, or --output another file"
            )
        return OTHER

    def remove(self) -> None:
        """Delete the file; only after ``check`` showed it to be ours."""
        self.path.unlink(missing_ok=True)

    def _rewrite(self, rows: list[dict], mode_from: os.stat_result | None = None) -> None:
        def write(handle):
            writer = csv.DictWriter(handle, COLUMN_NAMES, extrasaction="ignore", restval="")
            writer.writeheader()
            writer.writerows(rows)

        write_atomically(self.path, write, mode_from)

    def prepare(self, fresh: bool = False, added: dict[str, str] | None = None) -> None:
        """Create the file with its header, or check (and repair) an existing one of ours before appending.

        With ``fresh`` an existing results CSV of ours is replaced by an empty one; anything else is refused.
        A CSV written before columns were appended gets them, with ``added``'s value where it has one (what
        every earlier row had, e.g. its interpreter), else blank.
        """
        state = self.check(fresh)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fresh and state != NEW:
                self.remove()
                state = NEW
            if state == NEW:  # absent, or empty: keep an empty file's permissions
                self._rewrite([], mode_from=os.stat(self.path) if self.path.exists() else None)
                return
            drop_torn_line(self.path)
            if state == OLDER:
                rows = [{**(added or {}), **row} for row in self.read_rows()]
                self._rewrite(rows, mode_from=os.stat(self.path))
        except OSError as exc:  # a read-only directory, a full disk, a file mounted on its own
            raise ExperimentError(f"{self.label}: cannot write {self.path}: {exc.strerror}") from None

    def append(self, row: dict) -> None:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(format_value(row.get(name)) for name in COLUMN_NAMES)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
