# One data set per (simulation, dimension, particle count), simulated or read from observations.


rule simulate:
    output:
        f"{DATASET}/data.h5",
    log:
        log_path("simulate", "dataset"),
    benchmark:
        benchmark_path("simulate", "dataset")
    params:
        settings=lambda wc: json.dumps(sim_settings(config, wc.sim)),
    threads: config["simulate"]["threads"]
    resources:
        mem_mb=mem_mb("simulate"),
        runtime=runtime("simulate"),
    conda:
        "../../envs/simulate.yaml"
    shell:
        "symdistill-simulate --law {wildcards.sim} --dim {wildcards.dim} --n {wildcards.n} "
        "--settings {params.settings:q} --threads {threads} --out {output} > {log} 2>&1"


# an observed data set is read, never simulated (the config refuses a simulation of that name)
ruleorder: read_ephemeris > simulate


rule read_ephemeris:
    output:
        f"{DATASET}/data.h5",
    wildcard_constraints:
        sim="solar",
    log:
        log_path("read_ephemeris", "dataset"),
    benchmark:
        benchmark_path("read_ephemeris", "dataset")
    params:
        settings=json.dumps(ephemeris_settings(config)),
    threads: 1
    resources:
        mem_mb=mem_mb("read_ephemeris"),
        runtime=runtime("read_ephemeris"),
    conda:
        "../../envs/simulate.yaml"
    shell:
        "symdistill-ephemeris --settings {params.settings:q} --out {output} > {log} 2>&1"


# a user's trajectory file (config trajectories; listed under observed), read, never simulated
ruleorder: read_trajectory > simulate


rule read_trajectory:
    input:
        lambda wc: config["trajectories"][wc.sim]["file"],
    output:
        f"{DATASET}/data.h5",
    wildcard_constraints:
        sim="|".join(config["trajectories"]) or "(?!)",
    log:
        log_path("read_trajectory", "dataset"),
    benchmark:
        benchmark_path("read_trajectory", "dataset")
    params:
        settings=lambda wc: json.dumps(trajectory_settings(config, wc.sim)),
    threads: 1
    resources:
        mem_mb=mem_mb("read_trajectory"),
        runtime=runtime("read_trajectory"),
    conda:
        "../../envs/simulate.yaml"
    shell:
        "symdistill-trajectory --name {wildcards.sim} --settings {params.settings:q} --out {output} > {log} 2>&1"
