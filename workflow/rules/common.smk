# Shared paths and target lists. Outputs live under results/<sim>_d<dim>_n<n>/...


wildcard_constraints:
    sim=r"[A-Za-z][A-Za-z0-9_]*",
    dim=r"\d+",
    n=r"\d+",


def dataset_path(sim, dim, n):
    return f"{RESULTS}/{sim}_d{dim}_n{n}/data.h5"


def all_targets():
    return [dataset_path(s, d, n) for s, d, n in datasets(config)]
