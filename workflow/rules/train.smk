# Train one graph network per (data set, variant, seed), then gather the test MAE table.


rule train_gnn:
    input:
        data=rules.simulate.output[0],
    output:
        best=f"{MODEL}/best.pt",
        last=f"{MODEL}/last.pt",
        history=f"{MODEL}/history.h5",
        metrics=f"{MODEL}/metrics.json",
    log:
        log_path("train_gnn", "model"),
    benchmark:
        benchmark_path("train_gnn", "model")
    params:
        settings=lambda wc: json.dumps(train_settings(config, int(wc.n), wc.variant, int(wc.dim), wc.sim)),
        outdir=lambda wc, output: os.path.dirname(output.best),
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpus"],
        mem_mb=mem_mb("train_gnn"),
        runtime=runtime("train_gnn"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-train --data {input.data} --out {params.outdir} --variant {wildcards.variant} "
        "--seed {wildcards.seed} --settings {params.settings:q} --threads {threads} "
        "> {log} 2>&1"


# The test MAE table; every other report table is this rule reused (``use rule mae_table as ...``).
rule mae_table:
    input:
        for_models(rules.train_gnn.output.metrics),
    output:
        **table_outputs("mae", "../report/mae.rst", "test MAE"),
    log:
        log_path("mae_table"),
    benchmark:
        benchmark_path("mae_table")
    params:
        kind="mae",
    threads: 1
    resources:
        mem_mb=mem_mb("mae_table"),
        runtime=runtime("mae_table"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-table {params.kind} --out {output.csv} {input} > {log} 2>&1"
