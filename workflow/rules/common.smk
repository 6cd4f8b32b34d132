# Shared paths and target lists. Outputs live under results/<sim>_d<dim>_n<n>/...


wildcard_constraints:
    sim=r"[A-Za-z][A-Za-z0-9_]*",
    dim=r"\d+",
    n=r"\d+",
    variant=r"[a-z0-9]+",
    seed=r"\d+",
    engine=r"operon|pysr|eql",


def dataset_path(sim, dim, n):
    return f"{RESULTS}/{sim}_d{dim}_n{n}/data.h5"


def model_path(sim, dim, n, variant, seed, name):
    return f"{RESULTS}/{sim}_d{dim}_n{n}/{variant}_s{seed}/{name}"


def engines_for(variant):
    """EQL models are read out by the eql engine; the others by the configured SR engines."""
    if variant == "eql":
        return ["eql"]
    sym = config["symbolic"]
    return sym["engines"] if variant in sym["variants"] else []


def recovery_inputs():
    return [
        model_path(s, d, n, v, seed, f"recovery_{engine}.json")
        for s, d, n, v, seed in models(config)
        for engine in engines_for(v)
    ]


def rollout_inputs():
    return [
        model_path(s, d, n, v, seed, f"rollout_{engine}.h5")
        for s, d, n, v, seed in models(config)
        if v in config["rollout"]["variants"]
        for engine in engines_for(v)
    ]


def all_targets():
    return [f"{RESULTS}/report/index.md"]
