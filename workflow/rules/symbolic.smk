# Distil the selected messages into expressions, judge them against the true law, tabulate.


rule symbolic_regression:
    input:
        model=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/best.pt",
        messages=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages.h5",
        selected=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/selected.json",
    output:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/sr_{{engine}}.json",
    log:
        f"{RESULTS}/logs/symbolic_regression/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/symbolic_regression/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.tsv"
    params:
        settings=lambda wc: json.dumps(sr_settings(config, wc.engine)),
    threads: config["symbolic"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-sr --messages {input.messages} --selected {input.selected} --model {input.model} "
        "--settings {params.settings:q} --threads {threads} --out {output} > {log} 2>&1"


rule judge_laws:
    input:
        sr=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/sr_{{engine}}.json",
        messages=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/messages.h5",
    output:
        recovery=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/recovery_{{engine}}.json",
        figure=report(
            f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/pareto_{{engine}}.png",
            caption="../report/pareto.rst",
            category="Pareto fronts",
            subcategory="{sim} d={dim} n={n}",
            labels={"variant": "{variant}", "engine": "{engine}", "seed": "{seed}"},
        ),
    log:
        f"{RESULTS}/logs/judge_laws/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/judge_laws/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-judge --sr {input.sr} --messages {input.messages} --out {output.recovery} "
        "--figure {output.figure} > {log} 2>&1"


rule recovery_table:
    input:
        recovery_inputs(),
    output:
        csv=report(
            f"{RESULTS}/report/recovery.csv", caption="../report/recovery.rst", category="Tables", labels={"table": "recovery"}
        ),
        md=f"{RESULTS}/report/recovery.md",
    log:
        f"{RESULTS}/logs/recovery_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/recovery_table.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-table recovery --out {output.csv} {input} > {log} 2>&1"
