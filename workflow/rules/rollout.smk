# Use the recovered laws: integrate with the GNN and its symbolic model beside the true simulator.


rule integrate_truth:
    input:
        data=rules.simulate.output[0],
    output:
        f"{DATASET}/rollout_truth.h5",
    log:
        log_path("rollout_truth", "dataset"),
    benchmark:
        benchmark_path("rollout_truth", "dataset")
    params:
        settings=json.dumps(rollout_settings(config)),
    threads: 1
    resources:
        mem_mb=mem_mb("integrate_truth"),
        runtime=runtime("integrate_truth"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-rollout truth --data {input.data} --settings {params.settings:q} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule rollout:
    input:
        model=rules.train_gnn.output.best,
        recovery=rules.judge_laws.output.recovery,
        data=rules.simulate.output[0],
        truth=rules.integrate_truth.output[0],
    output:
        f"{MODEL}/rollout_{{engine}}.h5",
    log:
        log_path("rollout", "engine"),
    benchmark:
        benchmark_path("rollout", "engine")
    params:
        settings=json.dumps(rollout_settings(config)),
    threads: config["rollout"]["threads"]
    resources:
        mem_mb=mem_mb("rollout"),
        runtime=runtime("rollout"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-rollout models --model {input.model} --recovery {input.recovery} --data {input.data} "
        "--truth {input.truth} "
        "--settings {params.settings:q} --threads {threads} --out {output} > {log} 2>&1"


# an observed data set's truth is the observations after its span (symdistill.physics.ephemeris.holdout)
ROLLOUTS = for_engines(rules.rollout.output[0], config["rollout"]["variants"])


rule rollout_table:
    input:
        ROLLOUTS,
    output:
        csv=report(f"{REPORT}/rollout.csv", caption="../report/rollout.rst", category="Tables", labels={"table": "rollout"}),
        md=f"{REPORT}/rollout.md",
        tex=f"{REPORT}/rollout.tex",
    log:
        log_path("rollout_table"),
    benchmark:
        benchmark_path("rollout_table")
    threads: 1
    resources:
        mem_mb=mem_mb("rollout_table"),
        runtime=runtime("rollout_table"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-table rollout --out {output.csv} {input} > {log} 2>&1"
