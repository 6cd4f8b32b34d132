# Use the recovered laws: integrate with the GNN and its symbolic model beside the true simulator.


rule integrate_truth:
    input:
        data=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/data.h5",
    output:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/rollout_truth.h5",
    log:
        f"{RESULTS}/logs/rollout_truth/{{sim}}_d{{dim}}_n{{n}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rollout_truth/{{sim}}_d{{dim}}_n{{n}}.tsv"
    params:
        settings=json.dumps(rollout_settings(config)),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-rollout truth --data {input.data} --settings {params.settings:q} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule rollout:
    input:
        model=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/best.pt",
        recovery=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/recovery_{{engine}}.json",
        data=f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/data.h5",
        truth=rules.integrate_truth.output[0],
    output:
        f"{RESULTS}/{{sim}}_d{{dim}}_n{{n}}/{{variant}}_s{{seed}}/rollout_{{engine}}.h5",
    log:
        f"{RESULTS}/logs/rollout/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rollout/{{sim}}_d{{dim}}_n{{n}}_{{variant}}_s{{seed}}_{{engine}}.tsv"
    params:
        settings=json.dumps(rollout_settings(config)),
    threads: config["rollout"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-rollout models --model {input.model} --recovery {input.recovery} --data {input.data} "
        "--truth {input.truth} "
        "--settings {params.settings:q} --threads {threads} --out {output} > {log} 2>&1"


rule rollout_table:
    input:
        rollout_inputs(),
    output:
        csv=report(
            f"{RESULTS}/report/rollout.csv",
            caption="../report/rollout.rst",
            category="Tables",
            labels={"table": "rollout"},
        ),
        md=f"{RESULTS}/report/rollout.md",
    log:
        f"{RESULTS}/logs/rollout_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/rollout_table.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/train.yaml"
    shell:
        "symdistill-table rollout --out {output.csv} {input} > {log} 2>&1"
