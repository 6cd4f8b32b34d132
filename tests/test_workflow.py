"""The whole workflow on tests/tiny.yaml with the local executor: a report that shows only what
the current configuration declares, and a run whose stages are killed one after another at
random points that still ends with the same artifacts as an uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _snakemake(work: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the workflow on tests/tiny.yaml in ``work`` (results in work/results)."""
    env_bin = str(Path(sys.executable).parent)
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
           "--configfile", str(REPO / "tests" / "tiny.yaml"), "--config", "results=results", *extra]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{env_bin}:{os.environ['PATH']}"}, timeout=900)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    run = _snakemake(work)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    return work / "results"


def test_every_stage_runs_locally(finished_run):
    report = finished_run / "report"
    for table in ("mae", "r2", "recovery", "rollout"):
        assert all((report / f"{table}.{ext}").exists() for ext in ("csv", "md", "tex"))
    assert (report / "equations.tex").exists()
    pngs = list(finished_run.rglob("*.png"))
    assert len(pngs) >= 9 and all(p.with_suffix(".pdf").exists() for p in pngs)  # each figure in vector too
    index = (report / "index.md").read_text()
    assert "spring_d2_n4" in index and "### Extracted equations" in index
    for link in [line.split("](", 1)[1].rstrip(")") for line in index.splitlines() if line.startswith("![")]:
        assert (report / link).exists(), link  # every figure the report shows is there
    assert (finished_run / "spring_d2_n4" / "rollout_truth.h5").exists()


def test_a_stale_result_is_not_reported(finished_run, tmp_path):
    """Artifacts of an earlier configuration (another law) in the same folder stay out of the
    report: it reads its declared inputs, not the folder."""
    work = tmp_path / "work"
    shutil.copytree(finished_run.parent, work, symlinks=True)
    results = work / "results"
    shutil.copytree(results / "spring_d2_n4", results / "r1_d2_n4")
    bench = results / "benchmarks" / "train_gnn"
    shutil.copy(next(bench.glob("spring_d2_n4_*.tsv")), bench / "r1_d2_n4_bottleneck_s0.tsv")
    run = _snakemake(work, "--forcerun", "report")
    assert run.returncode == 0, run.stderr[-4000:]
    index = (results / "report" / "index.md").read_text()
    assert "r1_d2_n4" not in index and "r1-2-4" not in index  # no r1 data set, model, equation or figure
    train_row = next(line for line in index.splitlines() if line.startswith("| train_gnn |"))
    assert train_row.split("|")[2].strip() == "2"  # bottleneck and eql of spring, not the stale one


def test_a_missing_intermediate_output_is_made_again(finished_run, tmp_path):
    """An output whose dependents are all still there (a front file removed by hand, or by
    Snakemake when a forced rerun of its job was killed) is a target: made again, and what
    was made from it after it."""
    work = tmp_path / "work"
    shutil.copytree(finished_run.parent, work, symlinks=True)
    (work / "results" / "spring_d2_n4" / "bottleneck_s0" / "sr_operon.json").unlink()
    run = _snakemake(work, "-n")
    assert run.returncode == 0, run.stderr[-4000:]
    planned = run.stdout + run.stderr
    assert "rule symbolic_regression:" in planned and "rule judge_laws:" in planned, planned[-3000:]


def test_a_report_of_mixed_provenance_names_the_stale_file(finished_run, tmp_path):
    """A selection rewritten after the fit that used it: the report refuses, naming the fit."""
    work = tmp_path / "work"
    shutil.copytree(finished_run.parent, work, symlinks=True)
    model = work / "results" / "spring_d2_n4" / "bottleneck_s0"
    sel = model / "selected.json"
    sel.write_text(json.dumps(json.loads(sel.read_text())))  # same content, other bytes: another run's
    from symdistill.report.build import main as report_main

    fits = [str(p) for p in (work / "results").glob("*/*/fit.json")]
    recovery = [str(p) for p in (work / "results").glob("*/*/recovery_*.json")]
    with pytest.raises(SystemExit) as err:
        report_main(["--out", str(tmp_path / "report"), "--fits", *fits, "--recovery", *recovery])
    msg = str(err.value.code)
    assert "fit.json is stale" in msg and "selected.json" in msg and "fit_forces" in msg and "\n" not in msg
    assert not (tmp_path / "report" / "index.md").exists()


def test_a_damaged_data_set_is_set_aside_and_made_again(finished_run, tmp_path):
    """A data.h5 truncated after the run is not trusted: moved to data.h5.damaged (kept) and
    simulated again, and the run completes with the same numbers."""
    work = tmp_path / "work"
    shutil.copytree(finished_run.parent, work, symlinks=True)
    data = work / "results" / "spring_d2_n4" / "data.h5"
    good = data.read_bytes()
    data.write_bytes(good[:4096])
    assert _snakemake(work, "-n").returncode == 0 and data.stat().st_size == 4096  # a dry run moves nothing
    run = _snakemake(work)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "is damaged" in run.stderr and (data.parent / "data.h5.damaged").read_bytes() == good[:4096]
    assert _same(finished_run / "spring_d2_n4" / "data.h5", data)


class Killer(threading.Thread):
    """SIGKILL the first process running console script ``script`` (with ``arg`` among its
    arguments) in ``workdir`` once ``trigger(argv)`` holds for that process, after a random
    delay: a job killed at a random point (processes of other runs on the machine are left
    alone). The trigger sees the process's own arguments, so a condition such as "its
    checkpoint exists" is about that job, not a sibling that finished earlier."""

    def __init__(self, script: str, delay: tuple[float, float], rng, workdir: Path, trigger=lambda argv: True,
                 arg: str = ""):
        super().__init__(daemon=True)
        self.script, self.arg, self.trigger, self.workdir = script, arg, trigger, workdir.resolve()
        self.delay = float(rng.uniform(*delay))
        self.killed: str | None = None
        self.stop = threading.Event()

    def _find(self) -> tuple[int, list[str]] | None:
        for proc in Path("/proc").iterdir():
            try:
                argv = (proc / "cmdline").read_bytes().decode().split("\0")
            except (OSError, ValueError):
                continue
            if len(argv) > 1 and "python" in Path(argv[0]).name and argv[1].endswith("/" + self.script) \
                    and (not self.arg or self.arg in argv):
                try:
                    if not Path(os.readlink(proc / "cwd")).is_relative_to(self.workdir):
                        continue
                except OSError:
                    continue
                return int(proc.name), argv
        return None

    def run(self) -> None:
        while not self.stop.is_set():
            found = self._find()
            pid, argv = found if found else (None, [])
            if pid is not None and self.trigger(argv):
                time.sleep(self.delay)
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed = f"{self.script} {self.arg} (pid {pid}) after {self.delay:.2f} s"
                except ProcessLookupError:
                    continue  # it finished first: wait for the next job of this stage
                return
            time.sleep(0.02)


def _artifacts(results: Path) -> dict[str, Path]:
    """The files a run leaves, minus logs, timings, figures and training scratch."""
    skip = ("logs", "benchmarks", "figures")
    return {str(p.relative_to(results)): p for p in results.rglob("*")
            if p.is_file() and not set(p.relative_to(results).parts) & set(skip)
            and p.suffix not in (".png",) and p.name not in ("index.md", "checkpoint.pt")}


def _same(a: Path, b: Path) -> bool:
    """Byte-identical, or the same numbers: HDF5 datasets and attributes, JSON values, model
    tensors (ignoring timings, lineage hashes and stamps that record when or how fast)."""
    if a.read_bytes() == b.read_bytes():
        return True
    volatile = {"train_seconds", "steps_per_second", "inputs", "elapsed", "seconds"}
    if a.suffix == ".json":
        strip = lambda o: {k: strip(v) for k, v in o.items() if k not in volatile} if isinstance(o, dict) \
            else [strip(v) for v in o] if isinstance(o, list) else o  # noqa: E731
        return strip(json.loads(a.read_text())) == strip(json.loads(b.read_text()))
    if a.suffix == ".h5":
        with h5py.File(a) as fa, h5py.File(b) as fb:
            names = []
            fa.visit(names.append)
            if sorted(names) != sorted(_names(fb)):
                return False
            for n in names:
                if isinstance(fa[n], h5py.Dataset) and not np.array_equal(fa[n][()], fb[n][()], equal_nan=fa[n].dtype.kind == "f"):
                    return False
            keep = lambda f: {k: str(v) for k, v in f.attrs.items() if k not in volatile | {"train_seconds"}}  # noqa: E731
            return keep(fa) == keep(fb)
    if a.suffix == ".pt":
        import torch

        ta, tb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
        return all(torch.equal(ta["state_dict"][k], tb["state_dict"][k]) for k in ta["state_dict"]) \
            and {k: v for k, v in ta.items() if k not in ("state_dict", "inputs")} == \
            {k: v for k, v in tb.items() if k not in ("state_dict", "inputs")}
    return False


def _names(f) -> list[str]:
    names = []
    f.visit(names.append)
    return names


def _all_readable(results: Path) -> list[str]:
    """Files under results that look complete but are not (a killed job's half-written output).
    A killed atomic write may leave <name>.tmp: by its name not complete, and replaced by the
    next write."""
    bad = []
    for p in results.rglob("*.json"):
        try:
            json.loads(p.read_text())
        except ValueError:
            bad.append(str(p))
    for p in results.rglob("*.h5"):
        try:
            h5py.File(p, "r").close()
        except OSError:
            bad.append(str(p))
    return bad


def _job_seconds(results: Path, rule: str) -> float:
    """The shortest wall time of a rule's jobs in a finished run (its benchmark files)."""
    times = [float(line.split("\t")[0]) for tsv in (results / "benchmarks").glob(f"{rule}*/*.tsv")
             for line in tsv.read_text().splitlines()[1:]]
    times += [float(line.split("\t")[0]) for tsv in (results / "benchmarks").glob(f"{rule}.tsv")
              for line in tsv.read_text().splitlines()[1:]]
    return min(times)


def test_killed_stages_resume_to_the_same_artifacts(finished_run, tmp_path):
    """simulate, train, message dump, symbolic regression and report, each killed at a random
    point in turn; every rerun picks up where the last stopped and the final artifacts equal
    those of the uninterrupted run."""
    rng = np.random.default_rng(int(time.time()))  # a different random point on every CI run
    results = tmp_path / "results"
    exists = lambda pattern: lambda argv: any(results.rglob(pattern))  # noqa: E731
    # a train job is killed once its own checkpoint exists (so the rerun resumes past step 0)
    own_checkpoint = lambda argv: "--out" in argv and \
        (tmp_path / argv[argv.index("--out") + 1] / "checkpoint.pt").exists()  # noqa: E731
    within = lambda rule: (0.1 * _job_seconds(finished_run, rule), 0.8 * _job_seconds(finished_run, rule))  # noqa: E731
    stages = [  # (rule, console script, its argument, trigger, delay range in s)
        ("simulate", "symdistill-simulate", "", exists("data.h5.partial"), (0.0, 0.3)),
        ("train_gnn", "symdistill-train", "", own_checkpoint, (0.0, 0.2)),
        ("dump_messages", "symdistill-messages", "dump", lambda argv: True, within("dump_messages")),
        ("symbolic_regression", "symdistill-sr", "", lambda argv: True, within("symbolic_regression")),
        ("report", "symdistill-report", "", lambda argv: True, within("report")),
    ]
    killed = []
    for rule, script, arg, trigger, delay in stages:
        for attempt in range(4):  # a job that ends before its random point is run again
            killer = Killer(script, tuple(d / 2**attempt for d in delay), rng, tmp_path, trigger=trigger, arg=arg)
            killer.start()
            run = _snakemake(tmp_path, *(["--forcerun", rule] if attempt else []))
            killer.stop.set()
            killer.join()
            if killer.killed:
                break
        assert killer.killed, f"{script} always finished before it could be killed: {run.stderr[-2000:]}"
        assert run.returncode != 0, run.stderr[-2000:]
        damaged = _all_readable(results)
        assert damaged == [], f"a killed job left a damaged file: {damaged}"
        killed.append(killer.killed)
    train_logs = "".join(p.read_text() for p in (results / "logs" / "train_gnn").glob("*.log"))
    run = _snakemake(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    resumed = "".join(p.read_text() for p in (results / "logs" / "train_gnn").glob("*.log"))
    assert re.search(r"resuming from \S+checkpoint.pt at step [1-9]", resumed + train_logs), killed
    ref, new = _artifacts(finished_run), _artifacts(results)
    assert sorted(new) == sorted(ref)
    differ = [name for name in ref if not _same(ref[name], new[name])]
    assert differ == [], (differ, killed)
    byte_equal = sum(ref[name].read_bytes() == new[name].read_bytes() for name in ref)
    print(f"killed: {killed}; {byte_equal} of {len(ref)} artifacts byte-identical, the rest numerically")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: appended to a copy of the report: decode every figure the report embeds in Chromium and write
#: each one's pixel size, and the report's own navigation, into the page
RENDER_CHECK = """<script>
window.addEventListener("load", () => setTimeout(async () => {
  const figures = Object.values(results).filter(r => r.mime_type.startsWith("image/"));
  const sizes = await Promise.all(figures.map(r => new Promise(done => {
    const img = new Image();
    img.onload = () => done([r.name, img.naturalWidth, img.naturalHeight]);
    img.onerror = () => done([r.name, 0, 0]);
    img.src = r.data_uri;
  })));
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({sizes, text: document.body.innerText});
  document.body.appendChild(out);
}, 500));
</script>"""


def test_snakemake_report_renders_its_figures_in_chromium(finished_run, tmp_path):
    """`snakemake --report` gives one HTML file; headless Chromium runs its app (the categories
    show) and decodes every figure in it at 150 dpi sizes."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        if os.environ.get("SYMDISTILL_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is not installed (CI installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    html = tmp_path / "report.html"
    run = _snakemake(finished_run.parent, "--report", str(html))
    assert run.returncode == 0, run.stderr[-3000:]
    page = tmp_path / "check.html"
    head, tag, tail = html.read_text().rpartition("</body>")  # the page's own (scripts hold others)
    page.write_text(head + RENDER_CHECK + tag + tail)
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    import html as htmllib

    check = json.loads(htmllib.unescape(found.group(1)))
    sizes = {name: (w, h) for name, w, h in check["sizes"]}
    want = {"messages_vs_force.png", "pareto_operon.png", "pareto_eql.png", "recovery_heatmap.png"}
    assert want <= set(sizes), sorted(sizes)
    for name, (w, h) in sizes.items():
        assert w >= 400 and h >= 150, (name, w, h)  # decoded, and at 150 dpi not a thumbnail
    for category in ("Messages vs force", "Pareto fronts", "Report", "Tables"):
        assert category in check["text"], check["text"][:500]
