# Gather every artifact into the results section (Markdown + figures).


rule report:
    input:
        tables=[rules.mae_table.output.csv, rules.r2_table.output.csv, rules.recovery_table.output.csv]
        + ([rules.rollout_table.output.csv] if rollout_outputs() else []),
        fits=for_models(rules.fit_forces.output.fit),
        recovery=for_engines(rules.judge_laws.output.recovery),
        rollouts=rollout_outputs(),
        data=[rules.simulate.output[0].format(sim=s, dim=d, n=n) for s, d, n in datasets(config)],
        histories=for_models(rules.train_gnn.output.history),
    output:
        index=report(f"{REPORT}/index.md", caption="../report/index.rst", category="Report"),
        heatmap=report(f"{REPORT}/figures/recovery_heatmap.png", caption="../report/heatmap.rst", category="Report"),
        equations=f"{REPORT}/equations.tex",
    log:
        log_path("report"),
    benchmark:
        benchmark_path("report")
    params:
        outdir=lambda wc, output: os.path.dirname(output.index),
        benchmarks=f"{RESULTS}/benchmarks",
    threads: 1
    resources:
        mem_mb=mem_mb("report"),
        runtime=runtime("report"),
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-report --out {params.outdir} --fits {input.fits} --recovery {input.recovery} "
        "--rollouts {input.rollouts} --data {input.data} --histories {input.histories} "
        "--benchmarks {params.benchmarks} > {log} 2>&1"
