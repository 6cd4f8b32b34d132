# Read the messages of each trained model, pick the top-d components, fit them to the true force.


rule dump_messages:
    input:
        model=rules.train_gnn.output.best,
        data=rules.simulate.output[0],
    output:
        f"{MODEL}/messages.h5",
    log:
        log_path("dump_messages", "model"),
    benchmark:
        benchmark_path("dump_messages", "model")
    params:
        max_graphs=config["messages"]["max_graphs"],
    group:
        "messages"
    threads: 1
    resources:
        mem_mb=mem_mb("dump_messages"),
        runtime=runtime("dump_messages"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-messages dump --model {input.model} --data {input.data} "
        "--max-graphs {params.max_graphs} --out {output} > {log} 2>&1"


rule select_messages:
    input:
        rules.dump_messages.output[0],
    output:
        f"{MODEL}/selected.json",
    log:
        log_path("select_messages", "model"),
    benchmark:
        benchmark_path("select_messages", "model")
    group:
        "messages"
    threads: 1
    resources:
        mem_mb=mem_mb("select_messages"),
        runtime=runtime("select_messages"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-messages select --messages {input} --out {output} > {log} 2>&1"


rule fit_forces:
    input:
        messages=rules.dump_messages.output[0],
        selected=rules.select_messages.output[0],
    output:
        fit=f"{MODEL}/fit.json",
        figure=report(
            f"{MODEL}/messages_vs_force.png",
            caption="../report/messages_vs_force.rst",
            category="Messages vs force",
            subcategory="{sim} d={dim} n={n}",
            labels={"variant": "{variant}", "seed": "{seed}"},
        ),
        figure_pdf=f"{MODEL}/messages_vs_force.pdf",
    log:
        log_path("fit_forces", "model"),
    benchmark:
        benchmark_path("fit_forces", "model")
    group:
        "messages"
    threads: 1
    resources:
        mem_mb=mem_mb("fit_forces"),
        runtime=runtime("fit_forces"),
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-fit --messages {input.messages} --selected {input.selected} "
        "--out {output.fit} --figure {output.figure} > {log} 2>&1"


use rule mae_table as r2_table with:
    input:
        for_models(rules.fit_forces.output.fit),
    output:
        **table_outputs("r2", "../report/r2.rst", "R2"),
    log:
        log_path("r2_table"),
    benchmark:
        benchmark_path("r2_table")
    params:
        kind="r2",
    resources:
        mem_mb=mem_mb("r2_table"),
        runtime=runtime("r2_table"),
