"""Where a project is written: check the target, build out of sight, then put it in place.

A project is built in a staging directory (beside an absent ``--output``, inside an existing one) and put in
place only once complete, so the output holds nothing, the old project, or the whole new one — never half of
one. ``--force`` replaces only a tree that is exactly what gen-project wrote (its files hash to its
manifest's ``content_hash``) and keeps the old tree until the new one is complete. Working directories are
named after the writing process; one whose process is gone (killed) is removed by the next write there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from generator.errors import OutputDirError
from generator.process import exists

GENERATOR_ID = "django-prefork-lab gen-project"
MANIFEST = "manifest.json"
STAGING, ASIDE = "partial", "old"  # our working directories: the tree being built, the tree replaced
WORK = ".gen-project"  # prefix of those inside an existing output


def content_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return "sha256:" + digest.hexdigest()


def read_manifest(directory: Path) -> dict | None:
    """The manifest if ``directory`` holds one written by this generator, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR_ID else None


def on_kernel_filesystem(path: Path) -> bool:
    """Whether ``path`` (or, if absent, its nearest existing parent) lies on /proc or /sys: files there reach
    the kernel, not a disk, and report themselves as regular and empty."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    devices = set()
    for mount in ("/proc", "/sys"):
        with contextlib.suppress(OSError):
            devices.add(os.stat(mount).st_dev)
    return os.stat(existing).st_dev in devices


def _is_bytecode(relative: str) -> bool:
    """Bytecode Python writes when the project runs (``__pycache__/*.pyc``): not part of the content."""
    parts = relative.split("/")
    return len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc")


def tree_problem(directory: Path, manifest: dict) -> str | None:
    """Why ``directory`` is not exactly the tree its manifest describes, or None when it is.

    Every file but the manifest, the database it names and bytecode must be a generated one, unchanged: their
    hash is the manifest's ``content_hash``. A symbolic link, or a directory holding none of them, is foreign.
    """
    skipped = {MANIFEST} | ({manifest["database"]} if manifest.get("database") else set())
    files: dict[str, str] = {}
    directories: set[str] = set()
    for top, dirs, names in os.walk(directory):
        base = os.path.relpath(top, directory)
        for name in dirs + names:
            relative = name if base == "." else f"{base}/{name}"
            path = os.path.join(top, name)
            if os.path.islink(path):
                return f"{relative} is a symbolic link"
            if name in dirs:
                directories.add(relative)
            elif relative not in skipped and not _is_bytecode(relative):
                try:
                    with open(path, encoding="utf-8", newline="") as handle:
                        files[relative] = handle.read()
                except (OSError, UnicodeDecodeError):
                    return f"{relative} is not a generated file"
    needed = {"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)}
    extra = sorted(d for d in directories - needed if d.rsplit("/", 1)[-1] != "__pycache__")
    if extra:
        return f"{extra[0]}/ is not a generated directory"
    if content_hash(files) != manifest.get("content_hash"):
        return "files were added, changed or removed since it was generated"
    return None


def check_output(output: Path, force: bool) -> None:
    """Refuse an output we may not write, before any work is done; changes nothing."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise OutputDirError(f"--output: {output} exists and is not a directory")
    if on_kernel_filesystem(output):
        raise OutputDirError(f"--output: {output} is on /proc or /sys (a kernel filesystem)")
    if not output.exists() or not any(output.iterdir()):
        return
    if not force:
        raise OutputDirError(f"--output: {output} is not empty (use --force to replace a generated project)")
    manifest = read_manifest(output)
    if manifest is None:
        raise OutputDirError(
            f"--output: {output} holds no manifest.json from gen-project; --force refuses to replace it"
        )
    problem = tree_problem(output, manifest)
    if problem:
        raise OutputDirError(
            f"--output: {output} is not as gen-project wrote it ({problem}); --force refuses to replace it"
        )


def _ours_to_remove(directory: Path, prefixes: tuple[str, ...]) -> list[Path]:
    """Our working directories in ``directory`` (names starting with ``prefixes``) whose process is gone."""
    found = []
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            if not entry.name.startswith(prefixes) or entry.is_symlink() or not entry.is_dir():
                continue
            pid = entry.name.rsplit("-", 2)[-2]
            if pid.isdigit() and not exists(int(pid)):
                found.append(entry)
    return found


def remove_stale(output: Path) -> None:
    """Remove the staging and set-aside directories of ``output`` (beside it, or inside an existing one) that
    a killed process left; those of a process still running are left alone."""
    beside = tuple(f".{output.name}.{kind}-" for kind in (STAGING, ASIDE))
    stale = _ours_to_remove(output.parent, beside)
    if output.is_dir() and not output.is_symlink():
        stale += _ours_to_remove(output, tuple(f"{WORK}.{kind}-" for kind in (STAGING, ASIDE)))
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)


def _unique(directory: Path, prefix: str) -> Path:
    return directory / f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


def make_staging(output: Path) -> Path:
    """A new empty directory to build in (mode as by mkdir, not mkdtemp's 0700): beside an absent output, to
    be renamed into place in one step; inside an existing one, whose entries are then moved, so that it stays
    the same directory (a mount point, a shell's working directory, its owner and mode)."""
    while True:
        if output.is_dir():
            path = _unique(output, f"{WORK}.{STAGING}")
        else:
            path = _unique(output.parent, f".{output.name}.{STAGING}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputDirError(f"--output: cannot write in {path.parent}: {exc.strerror}") from None


def install(staging: Path, output: Path) -> Path | None:
    """Put the complete tree ``staging`` in place at ``output``; returns the old tree, set aside inside the
    output, for the caller to delete (None when there was none). Run it with signals deferred.

    Built beside an absent output: one rename. Built inside an existing one: its old entries move into a
    set-aside directory (manifest first, so that it no longer claims to be a project), then the new ones move
    up (manifest last: the project is complete when its manifest appears); a few renames in one directory.
    """
    if staging.parent != output:
        os.rename(staging, output)
        return None
    old = [e for e in output.iterdir() if not e.name.startswith(f"{WORK}.")]
    aside = None
    if old:
        aside = _unique(output, f"{WORK}.{ASIDE}")
        aside.mkdir()
        for entry in sorted(old, key=lambda e: e.name != MANIFEST):
            os.rename(entry, aside / entry.name)
    for entry in sorted(staging.iterdir(), key=lambda e: e.name == MANIFEST):
        os.rename(entry, output / entry.name)
    staging.rmdir()
    return aside
