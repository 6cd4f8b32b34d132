# Paths and target lists: the one place the results layout is spelled.
# A data set lives in results/<sim>_d<dim>_n<n>/, a model in <data set>/<variant>_s<seed>/.


wildcard_constraints:
    sim=schema()["$defs"]["law_name"]["pattern"].strip("^$"),  # the schema's law names
    dim=r"\d+",
    n=r"\d+",
    variant=r"[a-z0-9]+",
    seed=r"\d+",
    engine=r"operon|pysr|eql",


DATASET = f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}"
MODEL = f"{DATASET}/{{variant}}_s{{seed}}"
REPORT = f"{RESULTS}/report"
_NAMES = {
    "dataset": "{sim}_d{dim}_n{n}",
    "model": "{sim}_d{dim}_n{n}_{variant}_s{seed}",
    "engine": "{sim}_d{dim}_n{n}_{variant}_s{seed}_{engine}",
}


def log_path(rule, per=None):
    """The log file of a rule, one per data set / model / (model, engine) if ``per`` says so."""
    return f"{RESULTS}/logs/{rule}/{_NAMES[per]}.log" if per else f"{RESULTS}/logs/{rule}.log"


def benchmark_path(rule, per=None):
    """The benchmark file of a rule, named like its log."""
    return f"{RESULTS}/benchmarks/{rule}/{_NAMES[per]}.tsv" if per else f"{RESULTS}/benchmarks/{rule}.tsv"


def mem_mb(rule):
    """The memory (MB) of a rule's jobs, from config resources, times the attempt on a retry."""
    return lambda wildcards, attempt: config["resources"][rule]["mem_mb"] * attempt


def runtime(rule):
    """The minutes a rule's job asks for: fixed + per_unit x the job's work, times the attempt
    (symdistill.experiment.job_runtime; the work unit of each rule is in the schema)."""
    return lambda wildcards, attempt: job_runtime(config, rule, wildcards, attempt)


def for_models(pattern, which=None):
    """``pattern`` (a rule's output, with model wildcards) filled in for every model of the
    config, or for ``which`` (an iterable of (sim, dim, n, variant, seed))."""
    return [
        pattern.format(sim=s, dim=d, n=n, variant=v, seed=seed)
        for s, d, n, v, seed in (models(config) if which is None else which)
    ]


def for_engines(pattern, variants=None):
    """``pattern`` (with model and engine wildcards) for every model whose variant is in
    ``variants`` (default all) and every engine that distils it."""
    return [
        pattern.format(sim=s, dim=d, n=n, variant=v, seed=seed, engine=e)
        for s, d, n, v, seed in models(config)
        if variants is None or v in variants
        for e in engines_for(config, v)
    ]


def rollout_outputs():
    """Every rollout the config asks for (the rolled-out variants' models and engines); an
    observed data set's truth is the observations after its span (called once the rules exist)."""
    return for_engines(rules.rollout.output[0], config["rollout"]["variants"])


def table_outputs(name, caption, label):
    """A report table's three files under the report folder: CSV (in the HTML report, with its
    caption and label), Markdown and LaTeX."""
    return {
        "csv": report(f"{REPORT}/{name}.csv", caption=caption, category="Tables", labels={"table": label}),
        "md": f"{REPORT}/{name}.md",
        "tex": f"{REPORT}/{name}.tex",
    }


def model_outputs():
    """Every model's training, message, selection and fit outputs and every engine's front and
    verdict, for each model of the config (called once every rule is defined)."""
    per_model = [*rules.train_gnn.output, *rules.dump_messages.output, *rules.select_messages.output,
                 rules.fit_forces.output.fit]
    per_engine = [*rules.symbolic_regression.output, rules.judge_laws.output.recovery]
    return [f for p in per_model for f in for_models(p)] + [f for p in per_engine for f in for_engines(p)]


def requested_outputs():
    """Every per-data-set, per-model and per-engine output the config's run makes, as targets
    of ``all``: one that is missing (deleted by hand, or removed by Snakemake when a forced
    rerun of its job was killed) is made again, and what depends on it after it, even where
    the outputs made from it are still there. Called once every rule is defined."""
    rollouts = rollout_outputs()
    truth = sorted({os.path.join(os.path.dirname(os.path.dirname(f)), os.path.basename(rules.integrate_truth.output[0]))
                    for f in rollouts})  # the data set folder of each rolled-out model
    return ([rules.simulate.output[0].format(sim=s, dim=d, n=n) for s, d, n in datasets(config)]
            + model_outputs() + truth + rollouts)


def all_outputs():
    """Every per-data-set and per-model output the config asks for (for the damage check;
    called once every rule is defined)."""
    per_set = [rules.simulate.output[0], rules.integrate_truth.output[0]]
    sets = [p.format(sim=s, dim=d, n=n) for s, d, n in datasets(config) for p in per_set]
    return sets + model_outputs() + [f for p in rules.rollout.output for f in for_engines(p)]


_INSPECT = {"--dry-run", "--dryrun", "--dry_run", "--lint", "--dag", "--rulegraph", "--filegraph",
            "--summary", "--detailed-summary", "--list-rules", "--list-target-rules", "--lt", "--report",
            "--touch", "--unlock", "--list-changes", "--lc", "--cleanup-metadata", "--d3dag"}


def inspecting_only(argv):
    """True if this Snakemake call only looks at the workflow (a dry run, lint, DAG, summary,
    report, touch, ...), so it must not move files; Snakemake decides that only after parsing."""
    for arg in argv:
        if arg.split("=")[0] in _INSPECT or arg in ("-l", "-S", "-D", "-t"):
            return True
        if arg.startswith("-") and not arg.startswith("--") and "n" in arg[1:] and arg[1:].isalpha():
            return True  # -n, -np, -pn
    return False
