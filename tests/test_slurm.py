"""examples/slurm/optbasin.sbatch on a real single-node Slurm (Debian's slurm-wlm with munge):
the fixture starts munged, slurmctld and slurmd on this machine with a generated slurm.conf
(private ports, sockets and state under the test's temporary directory) and stops them after.
Needs root (slurmd runs jobs as their user) and the Debian packages (`make slurm`); skipped
otherwise."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import base_sweep
from tests.test_cluster import free_port, stop_node

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "slurm" / "optbasin.sbatch"
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol")
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: slurmd must run as root to start jobs (run the suite as root, e.g. in CI)"
    absent = [d for d in DAEMONS if shutil.which(d, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
    if absent:
        return f"Slurm/munge not installed ({', '.join(absent)} missing): `make slurm` installs them as root"
    return None


def poll(what: str, check, timeout: float, every: float = 0.2):
    """``check()`` until it returns something truthy (returned), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


def slurm_conf(d: Path, host: str) -> str:
    return f"""\
ClusterName=optbasintest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge.sock
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
SlurmdParameters=config_overrides
NodeName={host} CPUs={os.cpu_count()} RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=10 State=UP
"""


@pytest.fixture
def slurm(tmp_path_factory):
    """A running single-node Slurm; yields the environment for its commands (SLURM_CONF set)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    d = Path(tmp_path_factory.mktemp("slurm"))
    (d / "state").mkdir()
    (d / "spool").mkdir()
    host = socket.gethostname().split(".")[0]
    (d / "slurm.conf").write_text(slurm_conf(d, host))
    env = {
        **os.environ,
        "SLURM_CONF": str(d / "slurm.conf"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}:/usr/sbin:/sbin",
    }
    subprocess.run(["mungekey", "--create", "--keyfile", str(d / "munge.key")], check=True, env=env)
    procs: list[subprocess.Popen] = []

    def start(*cmd: str, log: str) -> None:
        with open(d / log, "wb") as out:
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    try:
        start(
            "munged",
            "--foreground",
            "--force",
            f"--socket={d}/munge.sock",
            f"--key-file={d}/munge.key",
            f"--pid-file={d}/munged.pid",
            f"--log-file={d}/munged.log",
            f"--seed-file={d}/munge.seed",
            log="munged.out",
        )
        poll("munged's socket", (d / "munge.sock").exists, 10)
        start("slurmctld", "-D", "-i", "-f", str(d / "slurm.conf"), log="slurmctld.out")
        start("slurmd", "-D", "-f", str(d / "slurm.conf"), "-N", host, log="slurmd.out")

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        poll("the Slurm node becoming idle", idle, 30)
        yield env
    finally:
        for proc in reversed(procs):
            stop_node(proc)


def job_state(job: str, env: dict) -> tuple[str, str] | None:
    out = subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True).stdout
    state = re.search(r"JobState=(\S+)", out)
    code = re.search(r"ExitCode=(\S+)", out)
    return (state.group(1), code.group(1)) if state and state.group(1) in FINAL else None


def test_sbatch_template_runs_a_sweep_on_slurm(slurm, tmp_path):
    run = tmp_path / "run"
    doc = base_sweep(run)
    doc["optimizers"] = [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}]  # 2 lrs x 2 seeds: 4 trials
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "job.out"
    sub = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--output={out}",
            f"--chdir={tmp_path}",
            "--nodes=1",
            f"--cpus-per-task={os.cpu_count()}",
            "--time=5",
            str(TEMPLATE),
            "sweep.yaml",
            "--quiet",
        ],
        env={**slurm, "RAY_PORT": str(free_port())},
        capture_output=True,
        text=True,
    )
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip().split(";")[0]
    try:
        state, code = poll(f"Slurm job {job}", lambda: job_state(job, slurm), 150, every=0.5)
    finally:
        subprocess.run(["scancel", job], env=slurm, capture_output=True)
    log = out.read_text() if out.exists() else "(no job output)"
    assert (state, code) == ("COMPLETED", "0:0"), log
    assert "optbasin: Ray head on" in log  # the template started Ray and drove the sweep through it
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 4 and set(trials.status) == {"completed"}, trials[["trial_id", "status", "error"]]
    assert trials.node.nunique() == 1 and (trials.node == socket.gethostname()).all()
    steps = pd.read_parquet(run / "steps.parquet")
    assert set(steps.trial_id) == set(trials.trial_id)
