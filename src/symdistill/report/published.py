"""Published numbers to compare against (Cranmer et al. 2020 and its reproductions; docs/results.md), as plain data."""

#: Robust R^2 of the top-d messages vs the true force, MPhil reproduction, 2-D, n = 4.
R2_MPHIL = {
    "charge": {"standard": 0.466, "bottleneck": 0.995, "l1": 0.692, "kl": 0.029, "pruning": 0.998},
    "r1": {"standard": 0.414, "bottleneck": 0.839, "l1": 0.844, "kl": 0.594, "pruning": 0.838},
    "r2": {"standard": 0.833, "bottleneck": 0.967, "l1": 0.830, "kl": 0.866, "pruning": 0.973},
    "spring": {"standard": 0.920, "bottleneck": 1.000, "l1": 0.998, "kl": 0.801, "pruning": 0.952},
}

#: Message-force R^2 reported for the original paper, keyed by (sim, dim).
R2_PAPER = {
    ("charge", 2): {"standard": 0.016, "bottleneck": 0.947, "l1": 0.004, "kl": 0.185},
    ("charge", 3): {"standard": 0.013, "bottleneck": 0.980, "l1": 0.002, "kl": 0.425},
    ("r1", 2): {"standard": 0.000, "bottleneck": 1.000, "l1": 1.000, "kl": 0.796},
    ("r1", 3): {"standard": 0.000, "bottleneck": 1.000, "l1": 1.000, "kl": 0.332},
    ("r2", 2): {"standard": 0.004, "bottleneck": 0.993, "l1": 0.990, "kl": 0.770},
    ("r2", 3): {"standard": 0.002, "bottleneck": 0.994, "l1": 0.977, "kl": 0.214},
    ("spring", 2): {"standard": 0.032, "bottleneck": 1.000, "l1": 1.000, "kl": 0.883},
    ("spring", 3): {"standard": 0.036, "bottleneck": 0.995, "l1": 1.000, "kl": 0.214},
}

#: Test MAE on accelerations in the paper, keyed by (sim, dim).
MAE_PAPER = {
    ("spring", 2): {"standard": 0.047, "bottleneck": 0.046, "l1": 0.045, "kl": 1.659},
    ("spring", 3): {"standard": 0.111, "bottleneck": 0.110, "l1": 0.090, "kl": 3.797},
    ("r1", 2): {"standard": 0.077, "bottleneck": 0.069, "l1": 0.079, "kl": 3.463},
    ("r1", 3): {"standard": 0.051, "bottleneck": 0.050, "l1": 0.055, "kl": 3.523},
    ("r2", 2): {"standard": 1.613, "bottleneck": 1.640, "l1": 1.184, "kl": 9.252},
    ("r2", 3): {"standard": 3.976, "bottleneck": 3.591, "l1": 3.366, "kl": 9.788},
    ("charge", 2): {"standard": 48.688, "bottleneck": 50.012, "l1": 51.906, "kl": 59.927},
    ("charge", 3): {"standard": 1.174, "bottleneck": 0.986, "l1": 0.940, "kl": 4.201},
}
