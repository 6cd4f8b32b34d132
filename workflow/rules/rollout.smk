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


use rule mae_table as rollout_table with:
    input:
        rollout_outputs(),
    output:
        **table_outputs("rollout", "../report/rollout.rst", "rollout"),
    log:
        log_path("rollout_table"),
    benchmark:
        benchmark_path("rollout_table")
    params:
        kind="rollout",
    resources:
        mem_mb=mem_mb("rollout_table"),
        runtime=runtime("rollout_table"),
