# Train one graph network per (data set, variant, seed), then gather the test MAE table.


rule train_gnn:
    input:
        data=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/data.h5",
    output:
        best=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/best.pt",
        last=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/last.pt",
        history=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/history.h5",
        metrics=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/train_gnn/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_gnn/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.tsv"
    params:
        settings=lambda wc: json.dumps(
            train_settings(config, int(wc.n), wc.variant, int(wc.dim), wc.sim)
        ),
        outdir=lambda wc, output: os.path.dirname(output.best),
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpus"],
        mem_mb=config["train"]["mem_mb"],
        runtime=config["train"]["runtime"],
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-train --data {input.data} --out {params.outdir} --variant {wildcards.variant} "
        "--seed {wildcards.seed} --settings {params.settings:q} --threads {threads} "
        "> {log} 2>&1"


rule mae_table:
    input:
        [model_path(*m, "metrics.json") for m in models(config)],
    output:
        csv=report(
            f"{RESULTS}/report/mae.csv", caption="../report/mae.rst", category="Tables", labels={"table": "test MAE"}
        ),
        md=f"{RESULTS}/report/mae.md",
    log:
        f"{RESULTS}/logs/mae_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/mae_table.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-table mae --out {output.csv} {input} > {log} 2>&1"
