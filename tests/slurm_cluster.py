"""A real single-node Slurm cluster on this machine, for the tests (and benchmarks/bench_slurm.py).

munged, slurmctld and slurmd run in the foreground as our children, with a parent-death signal, on free
ports, with a key, a configuration, state and spool directories of their own under one temporary directory:
nothing is shared with another cluster or another test run on the machine. Stopping cancels every job, stops
the daemons, then kills whatever still carries the cluster's marker in its environment (slurmstepd, job steps,
the servers they started), and removes the directory. Needs root and Debian's slurm-wlm and munge packages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from experiments.measure.processes import alive, child_setup, free_port

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")
MARKER = "PREFORK_LAB_TEST_CLUSTER"
START_TIMEOUT_S = 60
PARTITION = "debug"


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None]


def _node_resources() -> tuple[int, int]:
    """CPUs and memory (MB) as slurmd sees them: a node configured with more is refused."""
    done = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=60, check=True)
    fields = dict(item.split("=", 1) for item in done.stdout.split() if "=" in item)
    return int(fields["CPUs"]), int(fields["RealMemory"])


def _config(root: Path, node: str, cpus: int, memory_mb: int) -> str:
    return "\n".join(
        [
            "ClusterName=preforklab",
            f"SlurmctldHost={node}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "AuthType=auth/munge",
            f"AuthInfo=socket={root}/munge.socket",
            "CredType=cred/munge",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={root}/state",
            f"SlurmdSpoolDir={root}/spool",
            f"SlurmctldPidFile={root}/slurmctld.pid",
            f"SlurmdPidFile={root}/slurmd.pid",
            f"SlurmctldLogFile={root}/slurmctld.log",
            f"SlurmdLogFile={root}/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",  # no slurmdbd: sacct fails, squeue answers
            "ReturnToService=2",
            "KillWait=5",
            "InactiveLimit=0",
            f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


@dataclass
class Cluster:
    root: Path
    node: str
    env: dict[str, str]  # our environment plus SLURM_CONF and the marker: pass it to every client and runner
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60, check=check)

    def jobs(self) -> list[str]:
        """Jobs slurmctld has not finished with (pending, running, completing)."""
        done = self.run("squeue", "--noheader", "--array", "--format=%i %T", check=False)
        return [line for line in done.stdout.splitlines() if line.strip()]

    def node_state(self) -> str:
        return self.run("sinfo", "--noheader", "--format=%T", check=False).stdout.strip()

    def set_node(self, state: str) -> None:
        self.run("scontrol", "update", f"NodeName={self.node}", f"State={state}", "Reason=test")

    def wait_node(self, predicate, timeout: float = START_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while not predicate(state := self.node_state()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return state

    def marked_processes(self) -> list[int]:
        """Live processes carrying this cluster's marker: daemons, slurmstepd, job steps and their children."""
        needle = f"{MARKER}={self.root}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                if needle in environ.split(b"\0") and alive(int(entry)):
                    found.append(int(entry))
        return found

    def log_tail(self, lines: int = 20) -> str:
        text = []
        for name in ("slurmctld.log", "slurmd.log"):
            with contextlib.suppress(OSError):
                text += [f"{name}: {line}" for line in (self.root / name).read_text().splitlines()[-lines:]]
        return "\n".join(text)


def _start(cluster: Cluster, name: str, argv: list[str]) -> None:
    log = open(cluster.root / f"{name}.out", "wb")  # noqa: SIM115 - the daemon writes to it until stopped
    cluster.daemons[name] = subprocess.Popen(
        argv,
        env=cluster.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=child_setup,
    )
    log.close()


def _wait_for(predicate, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():
        for name, process in cluster.daemons.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{cluster.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test cluster never became {what}:\n{cluster.log_tail()}")
        time.sleep(0.1)


def start(root: Path | None = None) -> Cluster:
    root = Path(root or tempfile.mkdtemp(prefix="prefork-lab-slurm-"))
    root.chmod(0o755)  # munged refuses a socket in a directory that others cannot traverse
    for name in ("state", "spool"):
        (root / name).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    node = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(_config(root, node, *_node_resources()))
    env = {**os.environ, "SLURM_CONF": str(conf), MARKER: str(root)}
    env.pop("SLURM_JOB_ID", None)
    cluster = Cluster(root=root, node=node, env=env)
    try:
        munge = ["munged", "--foreground", f"--key-file={key}", f"--socket={root}/munge.socket"]
        munge += [
            f"--pid-file={root}/munged.pid",
            f"--seed-file={root}/munged.seed",
            f"--log-file={root}/munged.log",
        ]
        _start(cluster, "munged", munge)
        _wait_for(lambda: (root / "munge.socket").exists(), "ready (munge)", cluster)
        _start(cluster, "slurmctld", ["slurmctld", "-D", "-f", str(conf)])
        _start(cluster, "slurmd", ["slurmd", "-D", "-f", str(conf)])
        _wait_for(lambda: cluster.node_state() == "idle", "idle", cluster)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def stop(cluster: Cluster) -> None:
    """Cancel every job, stop the daemons, kill anything marked as ours that is left, remove the directory."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        if cluster.daemons.get("slurmctld") and cluster.daemons["slurmctld"].poll() is None:
            cluster.run("scancel", "--full", f"--partition={PARTITION}", check=False)
            deadline = time.monotonic() + 15
            while cluster.jobs() and time.monotonic() < deadline:
                time.sleep(0.2)
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.daemons.get(name)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    deadline = time.monotonic() + 10
    while (left := cluster.marked_processes()) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    shutil.rmtree(cluster.root, ignore_errors=True)


@contextlib.contextmanager
def single_node_cluster(root: Path | None = None):
    cluster = start(root)
    try:
        yield cluster
    finally:
        stop(cluster)
