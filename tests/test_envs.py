"""Install and environments: the torch choice, the Python floor, and conda envs that hold exactly
what their rules import, at pyproject's versions, with the package installed from Snakemake's copy."""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from conftest import rule_blocks
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
CONDA_NAMES = {"pytorch": "torch", "pytorch_geometric": "torch-geometric"}  # conda-forge -> PyPI
BASE = {"python", "pip", "setuptools"}  # what every env has to run the post-deploy install


def pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def canonical(name: str) -> str:
    name = CONDA_NAMES.get(name, name)
    return re.sub(r"[-_.]+", "-", name).lower()


def module_imports(path: Path, nested: bool = True) -> set[str]:
    """Modules a source file imports: at module level, or at any depth if ``nested`` (function-level
    imports too); imports only for type checkers are left out."""
    tree = ast.parse(path.read_text())
    found = set()

    def visit(node, top):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        inner = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if inner and not nested:
            return
        for child in ast.iter_child_nodes(node):
            visit(child, top and not inner)

    visit(tree, True)
    return found


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


def distributions(modules: set[str], optional: set[str]) -> set[str]:
    """The PyPI distributions that provide these top-level modules (optional extras left out)."""
    dists = importlib.metadata.packages_distributions()
    out = set()
    for top in modules:
        if top not in sys.stdlib_module_names and top not in ("__future__", "symdistill"):
            out.update(canonical(d) for d in dists.get(top, [top]))
    return out - optional


def static_closure(start: list[Path]) -> set[str]:
    """Top-level modules imported anywhere (function bodies included) in the symdistill modules
    reachable from ``start``: an upper bound of what a command can import."""
    seen: set[Path] = set()
    todo, found = list(start), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in module_imports(path):
            found.add(name.split(".")[0])
            if name.startswith("symdistill."):
                parts = name.split(".")
                todo += [f for i in range(2, len(parts) + 1) if (f := module_file(".".join(parts[:i])))]
    return found


def imported_at_start(module: str) -> set[str]:
    """Top-level modules that the symdistill modules loaded by importing ``module`` import at
    module level: what a command cannot start without (a lower bound)."""
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('symdistill')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    files = [f for m in out.stdout.split() if (f := module_file(m))]
    return {n.split(".")[0] for f in files for n in module_imports(f, nested=False)}


def env_specs(env: Path) -> tuple[dict[str, str], dict]:
    """{canonical name: version spec} of a conda env file, and the file itself."""
    doc = yaml.safe_load(env.read_text())
    specs = {}
    for dep in doc["dependencies"]:
        assert isinstance(dep, str), f"{env.name}: a pip section ({dep}) - use conda-forge packages"
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", dep).groups()
        specs[canonical(name)] = spec.replace(" ", "")
    return specs, doc


def rule_envs() -> dict[str, list[str]]:
    """conda env file name -> the first word of every shell command of the rules that use it."""
    out: dict[str, list[str]] = {}
    for name, block in rule_blocks().items():
        envs = re.findall(r'conda:\s*"[./]*envs/([a-z]+)\.yaml"', block)  # the last: a reused rule's own
        cmd = re.search(r'shell:\s*"([a-z\-]+)', block)
        assert envs and cmd, f"rule {name} lacks a conda env or a shell command"
        out.setdefault(envs[-1], []).append(cmd.group(1))
    return out


def test_every_conda_env_holds_what_its_rules_import_at_pyproject_versions():
    """Each rule env holds at least what its commands load at start and what their own modules
    import in function bodies (the engines), at most what any code they reach can import; with
    pyproject's version specs; conda-forge only; the package from the post-deploy script."""
    project = pyproject()
    optional = {canonical(Requirement(r).name) for extra in project["optional-dependencies"].values() for r in extra}
    floors = {canonical(Requirement(r).name): str(Requirement(r).specifier) for r in project["dependencies"]}
    scripts = project["scripts"]
    for env, commands in rule_envs().items():
        modules = {scripts[c].split(":")[0] for c in commands}
        files = [module_file(m) for m in modules]
        lower = distributions(set().union(*(imported_at_start(m) for m in modules)), optional)
        lower |= distributions({n.split(".")[0] for f in files for n in module_imports(f)}, optional)
        upper = distributions(static_closure(files), optional)
        specs, doc = env_specs(ROOT / "envs" / f"{env}.yaml")
        listed = set(specs) - BASE
        where = f"envs/{env}.yaml (rules running {sorted(set(commands))})"
        assert doc["channels"] == ["conda-forge", "nodefaults"], f"{where}: conda-forge only"
        assert lower <= listed, f"{where} lacks {sorted(lower - listed)}"
        assert listed <= upper, f"{where} holds {sorted(listed - upper)}, which none of its code imports"
        for name in listed:
            want = floors[name].replace("==", "=")  # conda spells an exact pin with one '='
            assert specs[name] == want, f"{where}: {name}{specs[name]} but pyproject says {floors[name]}"
        assert (ROOT / "envs" / f"{env}.post-deploy.sh").exists(), f"{where} has no post-deploy install"


def test_workflow_env_runs_the_snakefile_imports():
    """envs/workflow.yaml (snakemake itself) holds what the Snakefile loads from src/."""
    project = pyproject()
    optional = {canonical(Requirement(r).name) for extra in project["optional-dependencies"].values() for r in extra}
    imports = re.findall(r"^from (symdistill[\w.]*) import", (ROOT / "Snakefile").read_text(), re.M)
    needed = distributions(set().union(*(imported_at_start(m) for m in imports)), optional)
    # and what its start-up engine check looks for (check_engines: find_spec of each engine's package)
    checks = (ROOT / "src" / "symdistill" / "distill" / "availability.py").read_text()
    needed |= {canonical(m) for m in re.findall(r'find_spec\("(\w+)"\)', checks)} - optional
    assert "pyoperon" in needed
    specs = yaml.safe_load((ROOT / "envs" / "workflow.yaml").read_text())["dependencies"]
    names = {canonical(re.match(r"[A-Za-z0-9_.\-]+", d).group(0)) for d in specs if isinstance(d, str)}
    assert needed - {"snakemake"} <= names, f"envs/workflow.yaml lacks {sorted(needed - names)}"
    assert {"snakemake", "snakemake-executor-plugin-slurm"} <= names


def test_post_deploy_installs_the_package_from_the_workflow_source(tmp_path):
    """The post-deploy script installs symdistill (no dependencies: conda has them) from the path
    the Snakefile exports, from any working directory, as Snakemake runs it from its env copy."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = tmp_path / "copy.post-deploy.sh"  # Snakemake runs a copy beside the env
    shutil.copy(ROOT / "envs" / "train.post-deploy.sh", script)
    # pip and setuptools from this interpreter (no download), installing into the new env
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "SYMDISTILL_SOURCE": str(ROOT),
           "PIP_NO_INDEX": "1", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True, capture_output=True)
    env.pop("PYTHONPATH")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import symdistill; print(symdistill.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(SRC))
    env.pop("SYMDISTILL_SOURCE")
    bad = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "SYMDISTILL_SOURCE" in bad.stderr


# --- install: the torch choice and when the venv is remade ----------------------------------

@pytest.fixture
def installer(tmp_path):
    """tools/install.sh and pyproject.toml in a scratch tree, and a runner for --dry-run."""
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "install.sh", tmp_path / "tools")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()

    def run(torch=None, gpu=None, *args):
        if gpu is not None:
            (bindir / "nvidia-smi").write_text(f"#!/bin/sh\nexit {0 if gpu else 9}\n")
            (bindir / "nvidia-smi").chmod(0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("TORCH", "VENV")}
        env["PATH"] = f"{bindir}:/usr/bin:/bin"
        env["PYTHON"] = sys.executable
        if torch is not None:
            env["TORCH"] = torch
        return subprocess.run(["bash", str(tmp_path / "tools" / "install.sh"), *args], env=env,
                              capture_output=True, text=True)
    run.root = tmp_path
    return run


def test_a_python_below_the_floor_is_refused_by_name(installer):
    old = installer.root / "bin" / "python3.9"
    old.write_text('#!/bin/sh\ncase "$2" in *print*) echo 3.9 ;; *) exit 1 ;; esac\n')  # a Python 3.9
    old.chmod(0o755)
    env = {**os.environ, "PATH": f"{installer.root / 'bin'}:/usr/bin:/bin", "PYTHON": str(old)}
    out = subprocess.run(["bash", str(installer.root / "tools" / "install.sh"), "--dry-run"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "needs Python >= 3.11" in out.stderr and "PYTHON=" in out.stderr, out.stderr
    env["PYTHON"] = "no-such-python"
    out = subprocess.run(["bash", str(installer.root / "tools" / "install.sh"), "--dry-run"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no Python interpreter 'no-such-python'" in out.stderr


def test_make_passes_clean_values_to_the_installer():
    """A Make comment on a variable's line becomes part of its value ("python3  "): the values
    make hands install.sh must be exactly the defaults."""
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "install"], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHON", "TORCH", "VENV", "CORES")})
    assert "VENV='.venv' TORCH='auto' PYTHON='python3' bash tools/install.sh" in out.stdout, out.stdout
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True)
    assert "snakemake --cores all\n" in out.stdout + "\n", out.stdout


def test_torch_choice(installer):
    out = installer(None, None, "--dry-run")
    assert "(cpu)" in out.stdout and "--index-url https://download.pytorch.org/whl/cpu torch==" in out.stdout
    out = installer(None, True, "--dry-run")  # a working driver: PyPI's CUDA build, no index
    assert "(cuda)" in out.stdout and "--index-url" not in out.stdout
    out = installer(None, False, "--dry-run")  # nvidia-smi present but no GPU answers
    assert "(cpu)" in out.stdout
    out = installer("https://example.org/whl/cu126", None, "--dry-run")
    assert "--index-url https://example.org/whl/cu126 torch==" in out.stdout
    out = installer("gpu", None, "--dry-run")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "TORCH=gpu" in out.stderr


def test_venv_is_remade_when_the_torch_choice_or_pyproject_changes(installer):
    venv = installer.root / ".venv"
    venv.mkdir()
    fingerprint = installer("cpu", None, "--fingerprint").stdout
    (venv / ".installed").write_text(fingerprint)
    assert "up to date" in installer("cpu", None, "--dry-run").stdout
    out = installer("cuda", None, "--dry-run").stdout
    assert "changed: torch" in out and "+ rm -rf .venv" in out
    (installer.root / "pyproject.toml").write_text((installer.root / "pyproject.toml").read_text() + "\n# edit\n")
    assert "changed: pyproject" in installer("cpu", None, "--dry-run").stdout


def test_python_floor_holds_for_all_code():
    """vermin proves no code needs a newer Python than requires-python says."""
    floor = re.search(r">=\s*(\d+\.\d+)", pyproject()["requires-python"]).group(1)
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    assert vermin, "vermin is in the [test] extras"
    out = subprocess.run([vermin, f"--target={floor}-", "--violations", "--no-tips", "--eval-annotations",
                          "--backport", "typing", "src", "tests", "bench"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# The platform the floor is checked on: x86_64 Linux, glibc >= 2.28 (torch 2.13's wheels need 2.28,
# pyoperon's 2.27, and pyoperon has no aarch64 wheel)
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64",
             "manylinux1_x86_64"]
PLATFORM_ARGS = [a for p in PLATFORMS for a in ("--platform", p)]


def requirements() -> list[Requirement]:
    """The project's dependencies and test extras."""
    project = pyproject()
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def resolve(python: str, wheels: Path) -> subprocess.CompletedProcess:
    """pip's resolution of every requirement but torch for another Python (wheels only, plus the
    pure-Python sdists built into ``wheels``), without installing anything. torch is left out
    because PyPI's Linux torch pulls in gigabytes of CUDA wheels, which pip downloads to read
    their metadata where the index serves none; ``torch_versions`` checks it from the listing."""
    rest = [str(r) for r in requirements() if r.name != "torch"]
    return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                           "--no-cache-dir", "--only-binary=:all:", "--find-links", str(wheels), "--python-version",
                           python, *PLATFORM_ARGS, "--target", str(wheels / "target"), *rest],
                          capture_output=True, text=True, timeout=900)


def torch_versions(python: str) -> list[str]:
    """The torch versions the package index has a wheel of for ``python`` on these platforms,
    read from the index's listing (nothing is downloaded)."""
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "torch", "--only-binary=:all:",
                          "--python-version", python, *PLATFORM_ARGS], capture_output=True, text=True, timeout=300)
    listed = re.search(r"^Available versions:(.*)$", out.stdout, re.M)
    return [v.strip() for v in listed.group(1).split(",")] if listed else []


def test_the_python_floor_resolves_every_dependency_and_the_python_below_it_does_not(tmp_path):
    """requires-python is a real floor: pip finds every dependency for it (on x86_64 Linux), and
    not for the Python before it (snakemake >= 9 needs 3.11), so the floor is not set too low."""
    floor = re.search(r">=\s*(\d+)\.(\d+)", pyproject()["requires-python"])
    major, minor = int(floor.group(1)), int(floor.group(2))
    # connection_pool (a snakemake dependency) ships only as a pure-Python sdist
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "connection_pool",
                            "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    if built.returncode and "connect" in built.stderr.lower():
        pytest.skip(f"no package index reachable: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stderr
    torch = next(r for r in requirements() if r.name == "torch")
    assert [v for v in torch_versions(f"{major}.{minor}") if v in torch.specifier], \
        f"no torch wheel satisfying {torch} for Python {major}.{minor}"
    assert not [v for v in torch_versions("3.7") if v in torch.specifier], "the listing ignores the Python"
    at_floor = resolve(f"{major}.{minor}", tmp_path)
    assert at_floor.returncode == 0, at_floor.stderr[-3000:]
    below = resolve(f"{major}.{minor - 1}", tmp_path)
    assert below.returncode != 0 and "No matching distribution" in below.stderr, below.stderr[-2000:]


# Each torch feature the code uses, the first release that has it, and how to spot it.
TORCH_FEATURES = [
    ("fused=True", "2.4", "fused Adam on the CPU"),
    ("torch.compile", "2.0", "torch.compile"),
    ("weights_only=", "1.13", "torch.load(weights_only=...)"),
    ("torch.autocast(", "1.10", "device-generic autocast"),
]


def test_torch_floor_covers_every_feature_used():
    floor = next(Requirement(r).specifier for r in pyproject()["dependencies"] if Requirement(r).name == "torch")
    lowest = str(floor).split(">=")[1].split(",")[0]
    code = "\n".join(p.read_text() for p in SRC.rglob("*.py"))
    ver = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    for marker, since, what in TORCH_FEATURES:
        if marker in code:
            assert ver(lowest) >= ver(since), f"{what} needs torch >= {since}; pyproject allows {floor}"


def test_license_and_citation():
    assert pyproject()["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == pyproject()["version"]
    titles = [r["title"] for r in cff["references"]]
    assert titles == ["Discovering Symbolic Models from Deep Learning with Inductive Biases",
                      "Symbolic Distillation of Graph Neural Networks",
                      "Graph Neural Network-Based Symbolic Regression Using Deep Learning"]
