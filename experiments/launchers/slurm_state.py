"""Slurm job states: from ``sacct`` as submitit asks for them, or from ``squeue`` on clusters without accounting
(squeue keeps an ended job for MinJobAge, 300 s by default; we look every 30 s at most); and how a job ended."""

from __future__ import annotations

import subprocess

from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

STATE_DELAY_S = 30  # at most this long between two state queries (submitit starts at 2 s and doubles)
# Slurm states of a job ended by something else than its own end (sacct may add " by <uid>" to CANCELLED)
ENDED_BADLY = ("NODE_FAIL", "CANCELLED", "TIMEOUT", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


class StateWatcher(SlurmInfoWatcher):
    """submitit's watcher (``sacct``), falling back on ``squeue`` once ``sacct`` has failed: a cluster without
    accounting storage still reports the jobs it knows, ended ones included."""

    def __init__(self, delay_s: int = STATE_DELAY_S):
        super().__init__(delay_s=delay_s)
        self.accounting: bool | None = None  # not known until sacct has been tried once

    def _make_command(self) -> list[str] | None:
        command = super()._make_command()
        if command is None or self.accounting is not False:
            return command
        ids = ",".join(sorted(command[i + 1] for i, arg in enumerate(command) if arg == "-j"))
        return ["squeue", "--states=all", "--array", "--noheader", "--format=%i|%T|%N", "--jobs", ids]

    def update(self) -> None:
        if self.accounting is None:
            command = self._make_command()
            if command is None:
                return
            try:
                subprocess.run(command, check=True, capture_output=True, timeout=60)
                self.accounting = True
            except (OSError, subprocess.SubprocessError):
                self.accounting = False
        super().update()

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        text = string.decode() if isinstance(string, bytes) else string
        if self.accounting is False:
            text = "JobID|State|NodeList\n" + text
        return super().read_info(text)


def how_it_ended(job) -> tuple[str, str]:
    """How a job ended ("ended NODE_FAIL on n12", "stopped near its time limit", …) and on which node.

    A job stopped by a signal says so in its result, but Slurm knows better why it was signalled (a node
    failure or a cancellation from outside both arrive as SIGTERM)."""
    slurm = isinstance(job, SlurmJob)
    info = job.get_info(mode="force") if slurm else {}
    node = info.get("NodeList", "") if info.get("NodeList") not in (None, "None assigned") else ""
    where = f" on {node}" if node else ""
    if job.paths.result_pickle.exists():
        error = job.exception()
        if error is not None:
            return f"failed ({str(error).strip().splitlines()[-1][:200]})", node
        stopped = job.result().get("stopped") or "ended"
        state = info.get("State", "").split(" ")[0]
        if state in ENDED_BADLY:
            return f"ended {state}{where}", node
        return stopped, node
    return f"ended {job.state}{where}", node
