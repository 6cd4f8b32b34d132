"""A single-node SLURM cluster on loopback, for testing the SLURM workflow profile for real.

Needs Debian's (or any) ``slurmctld slurmd slurm-client munge`` and root (slurmd runs jobs as the
submitting user). No systemd: munged, slurmctld and slurmd are started here in the foreground
mode of each daemon, in the background, and stopped by PID. The node has 2 CPUs and one fake GPU
(``gres.conf``: File=/dev/null), in two partitions ``cpu`` and ``gpu``, as profiles/slurm names.

The config goes to /etc/slurm (removed afterwards): the slurm-jobstep plugin strips SLURM_CONF
from the environment of the ``srun`` it runs inside each job, so srun only finds the default path.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")


CONF_DIR = Path("/etc/slurm")
MARKER = "# written by symdistill tests/slurm_cluster.py"


def missing() -> list[str]:
    """What this machine lacks to run the cluster (empty when it can)."""
    out = [d for d in DAEMONS if not (shutil.which(d) or Path("/usr/sbin", d).exists())]
    if os.geteuid() != 0:
        out.append("root (slurmd must run as root)")
    conf = CONF_DIR / "slurm.conf"
    if conf.exists() and MARKER not in conf.read_text():
        out.append(f"a free {conf} (this machine has its own SLURM config there)")
    return out


def _conf(root: Path, cpus: int, mem_mb: int) -> str:
    return f"""\
{MARKER}
ClusterName=symdistill-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=node1 NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=node1 Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=node1 MaxTime=INFINITE State=UP
"""


def _sbin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@contextmanager
def slurm_cluster(root: Path, cpus: int = 2, mem_mb: int = 8000, timeout: float = 60.0):
    """Start munged, slurmctld and slurmd under ``root``; yield the environment that points
    SLURM's client commands at this cluster; stop the daemons by PID on exit."""
    root = Path(root)
    for d in ("state", "spool"):
        (root / d).mkdir(parents=True, exist_ok=True)
    # munged runs as the munge user, which cannot enter pytest's private tmp dirs
    munge = Path(tempfile.mkdtemp(prefix="symdistill-munge-"))
    munge.chmod(0o755)
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    conf, gres = CONF_DIR / "slurm.conf", CONF_DIR / "gres.conf"
    conf.write_text(_conf(root, cpus, mem_mb))
    gres.write_text(f"{MARKER}\nNodeName=node1 Name=gpu File=/dev/null\n")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        shutil.chown(munge, "munge", "munge")
        socket = munge / "munge.socket.2"
        log = open(root / "munged.out", "w")
        logs.append(log)
        procs.append(subprocess.Popen(
            ["runuser", "-u", "munge", "--", _sbin("munged"), "--foreground", "--force",
             f"--socket={socket}", f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log",
             f"--seed-file={munge}/munged.seed"], stdout=log, stderr=subprocess.STDOUT))
        _wait(lambda: socket.exists(), timeout, "munged socket", root / "munged.out", procs)
        # slurm finds munge's socket through the auth plugin's parameter
        conf.write_text(conf.read_text() + f"AuthInfo=socket={socket}\n")
        for daemon in ("slurmctld", "slurmd"):
            log = open(root / f"{daemon}.out", "w")
            logs.append(log)
            extra = ["-N", "node1"] if daemon == "slurmd" else ["-i"]
            procs.append(subprocess.Popen([_sbin(daemon), "-D", "-f", str(conf), *extra],
                                          stdout=log, stderr=subprocess.STDOUT, env=env))
        _wait(lambda: _node_idle(env), timeout, "node1 idle in sinfo", root / "slurmctld.log", procs)
        yield env
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
        shutil.rmtree(munge, ignore_errors=True)
        conf.unlink(missing_ok=True)
        gres.unlink(missing_ok=True)


def _node_idle(env: dict) -> bool:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env=env, capture_output=True, text=True)
    return out.returncode == 0 and "node1 idle" in out.stdout


def _wait(ready, timeout: float, what: str, log: Path, procs: list[subprocess.Popen]) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and all(p.poll() is None for p in procs):
        if ready():
            return
        time.sleep(0.5)
    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
    dead = [p.args[0] if p.args[0] != "runuser" else "munged" for p in procs if p.poll() is not None]
    why = f"{', '.join(dead)} exited" if dead else f"not ready after {timeout:.0f} s"
    raise RuntimeError(f"SLURM test cluster: waiting for {what}: {why}; {log}:\n{tail}")
