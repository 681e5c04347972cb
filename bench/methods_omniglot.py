#!/usr/bin/env python3
"""Issue 12's method table: every few-shot family meta-trained on Omniglot for the same training time, then scored on
600 held-out episodes (95 % CI), with a learning curve per method.

Equal wall time on a shared machine: each method gets BUDGET seconds of single-threaded training, turned into an
iteration count by a calibration (`--calibrate`: the CPU seconds of `metacluster bench --threads 1` at 2 and at 6
iterations; their difference over 4 is a meta-iteration's cost without start-up). On one thread CPU seconds are what a
quiet machine's wall clock would show, and they barely move when other processes share the cores, so the calibration
and the runs can share a busy machine. Training is deterministic: a run slowed by load reaches exactly the θ it would
have reached alone; the CPU seconds each run really used are recorded beside it.

Each run trains in SEGMENTS parts (train --resume --iterations k·N/SEGMENTS; resuming gives the same bits as one run),
scoring CURVE_EPISODES held-out episodes after each part and FINAL_EPISODES at the end. Every point and every final
row is appended to OUT as one JSON line (`metacluster plot` draws the curves; bench/results.py the table).

  bench/methods_omniglot.py --calibration bench/results/methods-calibration-2026-12-01.jsonl --ways 5 \
      --budget 300 --out bench/results/methods-omniglot-2026-12-01.jsonl
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CLI = os.path.join(ROOT, "src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster")
METHODS = ["protonet", "fomaml", "matchingnet", "metanet", "pretrain", "mann", "lstm-meta"]


def seconds_per_iteration(calibration, algorithm, ways, shots):
    """The calibrated CPU seconds per meta-iteration for this algorithm and task shape (the last line wins)."""
    found = None
    if os.path.exists(calibration):
        with open(calibration) as f:
            for line in f:
                row = json.loads(line) if line.startswith("{") else {}
                if row.get("bench") == "methods-calibration" and (row["method"], row["ways"], row["shots"]) == (algorithm, ways, shots):
                    found = row["cpu_seconds_per_iteration"]
    if found is None:
        sys.exit(f"methods_omniglot: {calibration} has no calibration for {algorithm} {ways}-way {shots}-shot: run with --calibrate first.")
    return found


def calibrate(a, method, extra):
    """CPU seconds of one meta-iteration: bench at 2 and 6 iterations, the difference over 4 (start-up cancels)."""
    cpu = {}
    for iterations in (2, 6):
        bench = [a.cli, "bench", "--dataset", "omniglot", "--data", a.data, "--algorithm", method, "--ways", str(a.ways),
                 "--shots", str(a.shots), "--threads", "1", "--iterations", str(iterations)] + extra
        _, cpu[iterations] = run_json(bench)
    row = {"bench": "methods-calibration", "method": method, "ways": a.ways, "shots": a.shots,
           "cpu_seconds_per_iteration": round((cpu[6] - cpu[2]) / 4, 3), "extra": " ".join(extra),
           "load_avg_1m": os.getloadavg()[0], "machine": machine_line()}
    with open(a.calibration, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def finished(out, method, ways, shots, budget):
    """Whether OUT already holds this method's final row at this budget (so an interrupted table resumes)."""
    if not os.path.exists(out):
        return False
    with open(out) as f:
        rows = [json.loads(l) for l in f if l.startswith("{")]
    return any(r.get("final") and (r["method"], r["ways"], r["shots"], r["budget_cpu_seconds"]) == (method, ways, shots, budget) for r in rows)


def run_json(args):
    """Runs the CLI, returns (its one JSON line, CPU seconds the child used)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"methods_omniglot: {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]), cpu


def accuracy(evaluation):
    """The transductive-batch-norm accuracy (mean, ci95) and by-instance accuracies of an `evaluate --json` line."""
    for result in evaluation["evaluation"]["results"]:
        # Conv4 methods report both batch-norm modes: take transductive (the MAML papers' convention); mann has no batch norm.
        if result.get("accuracy") and result.get("batch_norm", "none") in ("transductive", "none"):
            return result["accuracy"]["mean"], result["accuracy"]["ci95"], result.get("accuracy_by_instance")
    raise SystemExit(f"methods_omniglot: no accuracy in {json.dumps(evaluation)[:400]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calibration", required=True)
    p.add_argument("--ways", type=int, required=True)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--budget", type=float, help="single-threaded training seconds per method")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--segments", type=int, default=3)
    p.add_argument("--curve-episodes", type=int, default=100)
    p.add_argument("--final-episodes", type=int, default=600)
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "omniglot"))
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "methods"))
    p.add_argument("--seed", default="1")
    p.add_argument("--extra", action="append", default=[], help="METHOD=ARGS: extra train options for one method")
    p.add_argument("--cli", default=DEFAULT_CLI)
    p.add_argument("--out", help="the JSONL to append results to (required unless --calibrate)")
    p.add_argument("--calibrate", action="store_true", help="measure each method's CPU seconds per iteration into --calibration and stop")
    a = p.parse_args()
    extra = {}
    for item in a.extra:
        method, _, options = item.partition("=")
        extra[method] = options.split()
    machine = machine_line()
    if a.calibrate:
        for method in a.methods.split(","):
            calibrate(a, method, extra.get(method, []))
        return
    if a.budget is None or a.out is None:
        sys.exit("methods_omniglot: give --budget SECONDS and --out FILE (or --calibrate).")
    for method in a.methods.split(","):
        if finished(a.out, method, a.ways, a.shots, a.budget):
            print(f"methods_omniglot: {method} {a.ways}-way {a.shots}-shot at {a.budget:g} s is already in {a.out}: skipped", flush=True)
            continue
        per_iteration = seconds_per_iteration(a.calibration, method, a.ways, a.shots)
        total = max(a.segments, round(a.budget / per_iteration))
        directory = os.path.join(a.runs, f"omniglot-{a.ways}w{a.shots}s-{method}")
        cpu_total = 0.0
        wall_start = time.time()
        for segment in range(1, a.segments + 1):
            target = round(total * segment / a.segments)
            train = [a.cli, "train", "--in-process", "--dataset", "omniglot", "--data", a.data, "--algorithm", method,
                     "--ways", str(a.ways), "--shots", str(a.shots), "--seed", a.seed, "--threads", "1",
                     "--iterations", str(target), "--checkpoint-dir", directory, "--checkpoint-every", "0", "--no-eval", "--json"]
            train += ["--resume"] if segment > 1 else ["--overwrite"] + extra.get(method, [])
            trained, cpu = run_json(train)
            cpu_total += cpu
            last = segment == a.segments
            episodes = a.final_episodes if last else a.curve_episodes
            evaluate = [a.cli, "evaluate", "--checkpoint", os.path.join(directory, "checkpoint.mcc"), "--episodes", str(episodes),
                        "--batch-norm", "transductive", "--threads", "1", "--json"]
            evaluated, _ = run_json(evaluate)
            mean, ci95, by_instance = accuracy(evaluated)
            row = {"bench": "methods", "dataset": "omniglot", "ways": a.ways, "shots": a.shots, "method": method,
                   "iteration": target, "iterations": total, "final": last, "episodes": episodes,
                   "accuracy": mean, "ci95": ci95, "budget_cpu_seconds": a.budget if last else a.budget * segment / a.segments,
                   "cpu_seconds_per_iteration": round(per_iteration, 3), "train_cpu_seconds": round(cpu_total, 1),
                   "wall_seconds": round(time.time() - wall_start, 1), "theta_sha256": evaluated["theta_sha256"],
                   "eval_steps": evaluated["evaluation"]["results"][0]["steps"], "machine": machine,
                   "command": one_run_command(a, method, total, extra.get(method, []))}
            if by_instance:
                row["accuracy_by_instance"] = by_instance
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def one_run_command(a, method, total, extra):
    """The single command that trains the same θ in one go (the segments resume it to the same bits)."""
    args = ["metacluster", "train", "--in-process", "--dataset", "omniglot", "--data", "DATA", "--algorithm", method,
            "--ways", str(a.ways), "--shots", str(a.shots), "--seed", a.seed, "--threads", "1", "--iterations", str(total)] + extra
    return " ".join(args)


def machine_line():
    model, flags, cores = "?", "", os.cpu_count()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    isa = "AVX-512" if " avx512f" in flags else ("AVX2" if " avx2" in flags else "no AVX2")
    # The shape of the "machine" field metacluster's own JSON lines carry (bench/results.py reads both).
    return {"cpu": model, "isa": isa, "cores": cores}


if __name__ == "__main__":
    main()
