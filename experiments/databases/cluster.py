"""The tool's own throwaway PostgreSQL cluster: started for a sweep, gone when it ends.

initdb into a temporary directory of ours; the postmaster is a direct child (never daemonised by pg_ctl) in its
own process group, listens on a unix socket in a directory of ours and on no TCP port, and builds with
durability off. When we are root it runs as the ``postgres`` user (initdb and postgres refuse root), with a
parent-death signal set after the change of user (changing credentials clears it), so it dies with us even
when we are SIGKILLed; its children notice their postmaster's death and exit. ``stop`` does a fast shutdown,
then SIGKILLs whatever is left. The directory and shared-memory interlock of a cluster whose runner was
SIGKILLed are removed by the next cluster started.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from experiments.errors import ExperimentError
from generator.process import release_held_signals, signals_held

PROGRAMS = ("initdb", "postgres")
BINDIR_ENV = "PREFORK_LAB_PG_BINDIR"
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
PREFIX = "prefork-lab-pg-"
RUN_AS = "postgres"  # when we are root
SUPERUSER = "postgres"
SOCKET_PATH_MAX = 107  # sockaddr_un.sun_path, without its NUL
SOCKET_NAME = ".s.PGSQL.5432"
INITDB_TIMEOUT_S = 120
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
LOG_TAIL_LINES = 5

# Appended to the postgresql.conf initdb writes; ALTER SYSTEM (postgresql.auto.conf) overrides it later.
BASE_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_permissions": "0700",
    # A project's database is built in one transaction, which holds a lock on every table, index and sequence
    # it creates until it commits: 3,000 models need ~30 k, 64 per connection (the default) gives 6,400.
    "max_locks_per_transaction": "1024",
}
BUILD_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

PR_SET_PDEATHSIG = 1
IPC_RMID = 0

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _libc = None


def find_programs() -> Path:
    """The directory holding initdb and postgres: $PREFORK_LAB_PG_BINDIR, else PATH, else Debian's layout."""
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        candidates = [Path(configured)]
    else:
        debian = sorted(glob.glob(DEBIAN_BINDIRS), key=lambda p: _version(Path(p).parent.name), reverse=True)
        candidates = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d] + [
            Path(d) for d in debian
        ]
    for directory in candidates:
        if all(os.access(directory / program, os.X_OK) for program in PROGRAMS):
            return directory
    where = f"${BINDIR_ENV} ({configured})" if configured else f"PATH nor {DEBIAN_BINDIRS}"
    raise ExperimentError(
        f"PostgreSQL server programs ({', '.join(PROGRAMS)}) not found in {where}; "
        "install the postgresql package or give a database URL"
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, or the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise ExperimentError(
            f"PostgreSQL refuses to run as root and there is no '{RUN_AS}' user to run it as; "
            "install the postgresql package or give a database URL"
        ) from None


def _searchable_by_all(path: Path) -> bool:
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _parent_dir(user: pwd.struct_passwd | None) -> Path:
    """Where clusters live: the temporary directory, unless the socket path would not fit in a unix socket
    address or the server's user could not reach it (a private TMPDIR of root's)."""
    parent = Path(tempfile.gettempdir())
    longest = parent / f"{PREFIX}{os.getpid()}-xxxxxxxx" / "socket" / SOCKET_NAME
    if len(str(longest)) > SOCKET_PATH_MAX or (user is not None and not _searchable_by_all(parent)):
        return Path("/tmp")
    return parent


# --------------------------------------------------------------------------- processes


def _stat(pid: int) -> list[bytes] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot): with the pid, names one process for good."""
    fields = _stat(pid)
    return fields[19].decode() if fields else None


def processes_in(root: Path) -> list[int]:
    """Live processes whose working directory is under ``root``: every server process chdirs to its data
    directory, so this finds the postmaster and all its children, even orphaned ones."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = Path(os.readlink(f"/proc/{entry}/cwd").removesuffix(" (deleted)"))
        except OSError:
            continue
        fields = _stat(int(entry))
        if cwd.is_relative_to(root) and fields and fields[0] != b"Z":
            found.append(int(entry))
    return found


def _kill_all(root: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (pids := processes_in(root)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _child_setup() -> None:
    """In the child, after subprocess changed the user (which clears a parent-death signal) and before exec."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    release_held_signals()


def _remove_interlock(root: Path) -> None:
    """Remove the SysV shared-memory interlock a SIGKILLed postmaster leaves (postmaster.pid names it),
    only when /proc shows that very segment, created by that postmaster and attached to nobody."""
    try:
        lines = (root / "data" / "postmaster.pid").read_text().splitlines()
        postmaster, (key, shmid) = lines[0].strip(), lines[6].split()
        with open("/proc/sysvipc/shm") as handle:
            rows = [row.split() for row in handle.read().splitlines()[1:]]
    except (OSError, IndexError, ValueError):
        return
    for row in rows:  # key shmid perms size cpid lpid nattch …
        if row[0] == key and row[1] == shmid and row[4] == postmaster and row[6] == "0" and _libc is not None:
            _libc.shmctl(int(shmid), IPC_RMID, None)


def remove_stale(parent: Path) -> list[Path]:
    """Remove the clusters under ``parent`` whose runner is gone (it was SIGKILLed); returns them."""
    removed = []
    for root in parent.glob(PREFIX + "*"):
        try:
            pid, started = (root / "owner").read_text().split()
        except (OSError, ValueError):
            continue  # not ours, or not finished being created
        if _start_time(int(pid)) == started or processes_in(root):
            continue
        _remove_interlock(root)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """``start()`` returns a running cluster; ``stop()`` (idempotent) leaves no process and no file."""

    def __init__(self, root: Path, bindir: Path, user: pwd.struct_passwd | None):
        self.root = root
        self.bindir = bindir
        self.user = user
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "server.log"
        self.process: subprocess.Popen | None = None

    @classmethod
    def start(cls) -> Cluster:
        bindir = find_programs()
        user = _server_user()
        parent = _parent_dir(user)
        remove_stale(parent)
        cluster = cls(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)), bindir, user)
        try:
            cluster._initdb()
            cluster._launch()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _as_server_user(self) -> dict:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        (self.root / "owner").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
        self.data.mkdir(mode=0o700)
        self.socket_dir.mkdir(mode=0o700)
        if self.user is not None:
            for path in (self.root, self.data, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        command = [self.bindir / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                   "--no-locale", "--no-sync", "--no-instructions"]  # fmt: skip
        try:
            done = subprocess.run(
                command, cwd=self.root, capture_output=True, text=True, timeout=INITDB_TIMEOUT_S,
                stdin=subprocess.DEVNULL, preexec_fn=_child_setup, **self._as_server_user(),
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExperimentError(f"initdb failed: {exc}") from None
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-LOG_TAIL_LINES:])
            raise ExperimentError(f"initdb failed (status {done.returncode}): {tail}")
        settings = {**BASE_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'", **BUILD_SETTINGS}
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# django-prefork-lab's throwaway cluster\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _launch(self) -> None:
        with open(self.log, "wb") as log, signals_held():
            self.process = subprocess.Popen(
                [self.bindir / "postgres", "-D", self.data], cwd=self.root, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup,
                **self._as_server_user(),
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._accepting():
            if self.process.poll() is not None:
                raise ExperimentError(
                    f"PostgreSQL exited with status {self.process.returncode}: {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ExperimentError(f"PostgreSQL not ready after {START_TIMEOUT_S} s: {self.log_tail()}")
            time.sleep(0.01)

    def _accepting(self) -> bool:
        """postmaster.pid's status line reads "ready" once the server accepts connections."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) > 7 and lines[7].strip() == "ready"

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-LOG_TAIL_LINES:]) or "empty log"

    def stop(self) -> None:
        """Fast shutdown (clients disconnected, no waiting for them), then SIGKILL of anything left."""
        with signals_held():
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_TIMEOUT_S)
            if self.process is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            _kill_all(self.root)
            _remove_interlock(self.root)
            shutil.rmtree(self.root, ignore_errors=True)
