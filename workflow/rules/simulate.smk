# Simulate one data set per (simulation, dimension, particle count).


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
