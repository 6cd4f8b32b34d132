# Gather every artifact into the results section (Markdown + figures).


rule report:
    input:
        tables=[
            f"{RESULTS}/report/{t}.csv"
            for t in ["mae", "r2", "recovery"] + (["rollout"] if rollout_inputs() else [])
        ],
        fits=[model_path(*m, "fit.json") for m in models(config)],
        recovery=recovery_inputs(),
        rollouts=rollout_inputs(),
    output:
        report(
            f"{RESULTS}/report/index.md",
            caption="../report/index.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    params:
        results=lambda wc, output: os.path.dirname(os.path.dirname(output[0])),
        outdir=lambda wc, output: os.path.dirname(output[0]),
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-report --results {params.results} --out {params.outdir} > {log} 2>&1"
