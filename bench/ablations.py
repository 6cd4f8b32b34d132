"""The symbolic stage's ablation rows, one table for both symbolic benchmarks (bench_symbolic.py on
true forces, ablate_symbolic.py on real message dumps): label -> the SRSettings fields changed
against the pipeline's settings in config.yaml, one change per row unless the label says so."""

ABLATIONS: dict[str, dict] = {
    "pipeline (config.yaml)": {},
    "choice: score (steepest log-loss drop, paper)": {"choice": "score"},
    "choice: best (PySR's 1.5x threshold)": {"choice": "best"},
    "separable: false (no phi(m, q) g(r) structure search: the default before 2026-12-05)": {"separable": False},
    "exhaustive: 0 (Operon's searches in one variable too)": {"exhaustive": 0},
    "exhaustive: 8 (every expression up to 8 nodes in one variable)": {"exhaustive": 8},
    "potential: false (no search of the integrated messages)": {"potential": False},
    "data_search: false (no search of the radial terms on the data: the default before 2026-12-06)": {
        "data_search": False},
    "log_r: true (searches also see log r)": {"log_r": True},
    "operators without sqrt (the 2026-12-04 grammar)": {"operators": ["add", "sub", "mul", "div", "exp", "log"]},
    "samples: 1000 (searches 2.5x cheaper)": {"samples": 1000},
    "samples: 1000, restarts: 2 (two cheaper searches merged)": {"samples": 1000, "restarts": 2},
    "envelope: false (no r^k targets)": {"envelope": False},
    "snr: 0 (no signal-to-noise filter)": {"snr": 0.0},
    "objectives: [r2] (one search per target)": {"objectives": ["r2"]},
    "trim: 0.9": {"trim": 0.9},
    "simplify: false": {"simplify": False},
    "structure: none (one search per component)": {"structure": "none"},
    "operators: + - * / only": {"operators": ["add", "sub", "mul", "div"]},
    "previous default (score, trim 0.9, no envelope, no snr, r2, 5000 samples, population 1000)": {
        "choice": "score", "trim": 0.9, "envelope": False, "snr": 0.0, "objectives": ["r2"],
        "samples": 5000, "population_size": 1000},
}
