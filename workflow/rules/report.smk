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
        outdir=lambda wc, output: os.path.dirname(output[0]),
        benchmarks=f"{RESULTS}/benchmarks",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/symbolic.yaml"
    shell:
        "symdistill-report --out {params.outdir} --fits {input.fits} --recovery {input.recovery} "
        "--rollouts {input.rollouts} --benchmarks {params.benchmarks} > {log} 2>&1"
