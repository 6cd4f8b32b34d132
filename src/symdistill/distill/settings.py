"""The symbolic stage's settings (one typed object, defaults from the schema's ``symbolic``
section) and the operator names each engine understands."""

from __future__ import annotations

from symdistill.core.schema import enum, stage_settings

#: engine-neutral operator names -> Operon symbol names
OPERON_SYMBOLS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "exp": "exp",
                  "log": "log", "sqrt": "sqrt", "square": "square", "sin": "sin", "cos": "cos",
                  "tanh": "tanh", "abs": "abs", "pow": "pow",
                  "inv": "div"}  # Operon has no 1/x node; c / x with a fitted constant covers it
#: engine-neutral operator names -> PySR operators (binary, unary)
PYSR_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
PYSR_UNARY = {"exp": "exp", "log": "log", "sqrt": "sqrt", "square": "square", "sin": "sin",
              "cos": "cos", "tanh": "tanh", "abs": "abs", "inv": "inv"}
CHOICES = tuple(enum("choice"))  # how a law is chosen from its front (symdistill.distill.choice)
STRUCTURES = tuple(enum("structure"))  # central: one radial law; none: a search per component


@stage_settings("symbolic")
class SRSettings:
    """Search budget, grammar and how a law is chosen (defaults and their meaning: the schema's
    ``symbolic`` section; published: PySR with + * inv exp log, 5,000 samples)."""

    engine: str
    objectives: list[str]
    snr: float
    samples: int
    trim: float
    time_limit: float
    operators: list[str]
    max_length: int
    population_size: int
    optimizer_iterations: int
    generations: int
    eql_term_tol: float
    iterations: int
    structure: str
    choice: str
    loss_tolerance: float
    data_tolerance: float
    calibration_graphs: int
    envelope: bool
    separable: bool
    potential: bool
    log_r: bool
    exhaustive: int
    data_search: bool
    align_keep: float
    simplify: bool
    restarts: int
    seed: int
    threads: int
