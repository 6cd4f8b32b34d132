# Distil the selected messages into expressions, judge them against the true law, tabulate.


rule symbolic_regression:
    input:
        model=rules.train_gnn.output.best,
        messages=rules.dump_messages.output[0],
        selected=rules.select_messages.output[0],
        data=rules.simulate.output[0],
    output:
        f"{MODEL}/sr_{{engine}}.json",
    log:
        log_path("symbolic_regression", "engine"),
    benchmark:
        benchmark_path("symbolic_regression", "engine")
    params:
        settings=lambda wc: json.dumps(sr_settings(config, wc.engine)),
    group:
        "distill"
    threads: config["symbolic"]["threads"]
    resources:
        mem_mb=mem_mb("symbolic_regression"),
        runtime=runtime("symbolic_regression"),
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-sr --messages {input.messages} --selected {input.selected} --model {input.model} "
        "--data {input.data} "
        "--settings {params.settings:q} --threads {threads} --out {output} > {log} 2>&1"


rule judge_laws:
    input:
        sr=rules.symbolic_regression.output[0],
        messages=rules.dump_messages.output[0],
    output:
        recovery=f"{MODEL}/recovery_{{engine}}.json",
        figure=report(
            f"{MODEL}/pareto_{{engine}}.png",
            caption="../report/pareto.rst",
            category="Pareto fronts",
            subcategory="{sim} d={dim} n={n}",
            labels={"variant": "{variant}", "engine": "{engine}", "seed": "{seed}"},
        ),
        figure_pdf=f"{MODEL}/pareto_{{engine}}.pdf",
    log:
        log_path("judge_laws", "engine"),
    benchmark:
        benchmark_path("judge_laws", "engine")
    group:
        "distill"
    threads: 1
    resources:
        mem_mb=mem_mb("judge_laws"),
        runtime=runtime("judge_laws"),
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-judge --sr {input.sr} --messages {input.messages} --out {output.recovery} "
        "--figure {output.figure} > {log} 2>&1"


use rule mae_table as recovery_table with:
    input:
        for_engines(rules.judge_laws.output.recovery),
    output:
        **table_outputs("recovery", "../report/recovery.rst", "recovery"),
    log:
        log_path("recovery_table"),
    benchmark:
        benchmark_path("recovery_table")
    params:
        kind="recovery",
    resources:
        mem_mb=mem_mb("recovery_table"),
        runtime=runtime("recovery_table"),
    conda:
        "../../envs/symbolic.yaml"
