# Read the messages of each trained model, pick the top-d components, fit them to the true force.


rule dump_messages:
    input:
        model=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/best.pt",
        data=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/data.h5",
    output:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages.h5",
    log:
        f"{RESULTS}/logs/dump_messages/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/dump_messages/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.tsv"
    params:
        max_graphs=config["messages"]["max_graphs"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-messages dump --model {input.model} --data {input.data} "
        "--max-graphs {params.max_graphs} --out {output} > {log} 2>&1"


rule select_messages:
    input:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages.h5",
    output:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/selected.json",
    log:
        f"{RESULTS}/logs/select_messages/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_messages/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-messages select --messages {input} --out {output} > {log} 2>&1"


rule fit_forces:
    input:
        messages=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages.h5",
        selected=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/selected.json",
    output:
        fit=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/fit.json",
        figure=report(
            f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages_vs_force.png",
            caption="../report/messages_vs_force.rst",
            category="Messages vs force",
            subcategory="{sim} d={dim} n={n}",
            labels={"variant": "{variant}", "seed": "{seed}"},
        ),
    log:
        f"{RESULTS}/logs/fit_forces/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fit_forces/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-fit --messages {input.messages} --selected {input.selected} "
        "--out {output.fit} --figure {output.figure} > {log} 2>&1"


rule r2_table:
    input:
        [model_path(*m, "fit.json") for m in models(config)],
    output:
        csv=report(f"{RESULTS}/report/r2.csv", caption="../report/r2.rst", category="Tables", labels={"table": "R2"}),
        md=f"{RESULTS}/report/r2.md",
    log:
        f"{RESULTS}/logs/r2_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/r2_table.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-table r2 --out {output.csv} {input} > {log} 2>&1"
