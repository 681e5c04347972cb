#!/usr/bin/env python3
"""Builds docs/results.md — our held-out results beside the papers' — from the JSON lines the runs printed.

    python3 bench/results.py bench/results/*.jsonl [--out docs/results.md] [--readme README.md]

Reads every line of every FILE that is a MetaCluster result with a held-out evaluation:
  `metacluster train --json` and `metacluster evaluate --json` ("command": "train"/"evaluate", a "config" and an
  "evaluation"), and `metacluster bench` lines ("engine": "metacluster" with an "eval" block). Other lines (status,
  scale and coordinator benches, the PyTorch peer's lines, comments) are skipped; a line that is not JSON is an error
  naming the file and line. One row per task (dataset, ways, shots) and method: every paper figure below, filled in
  when a result for it was read, plus any result without a paper figure. When several lines give the same task and
  method the last one read wins (pass files oldest first). Nothing is typed in by hand: the command line, the machine
  and the wall time come from the JSON (MetaCluster adds "command_line", "machine" and "wall_seconds" to every line),
  so the page cannot drift from what was measured. Standard library only.
"""
import argparse
import json
import sys

# The papers' figures: mean test accuracy (%) of 5-/20-way 1-/5-shot episodes, Conv4-sized models; sinusoid: MSE.
# Key: (dataset, ways, shots, method) -> (figure, source).
FINN = "Finn et al. 2017 (MAML), tables 1-2"
SNELL = "Snell et al. 2017 (prototypical networks), tables 1-2"
NICHOL = "Nichol et al. 2018 (Reptile), tables 1-2, transductive"
VINYALS = "Vinyals et al. 2016 (matching networks); mini-ImageNet as re-run by Ravi & Larochelle 2017"
RAVI = "Ravi & Larochelle 2017 (meta-learner LSTM), table 1"
ANTONIOU = "Antoniou et al. 2019 (MAML++), tables 1-2"
CHEN = "Chen et al. 2019 (a closer look at few-shot classification), table 3, Conv4"


def _grid(method, source, omniglot=None, mini=None):
    rows = {}
    for (ways, shots), figure in zip([(5, 1), (5, 5), (20, 1), (20, 5)], omniglot or []):
        if figure is not None:
            rows[("omniglot", ways, shots, method)] = (figure, source)
    for (ways, shots), figure in zip([(5, 1), (5, 5)], mini or []):
        if figure is not None:
            rows[("mini-imagenet", ways, shots, method)] = (figure, source)
    return rows


PAPER = {}
PAPER.update(_grid("MAML", FINN, [98.7, 99.9, 95.8, 98.9], [48.70, 63.11]))
PAPER.update(_grid("FOMAML", FINN, [98.3, 99.2, 89.4, 97.9], [48.07, 63.15]))
PAPER.update(_grid("ProtoNets", SNELL, [98.8, 99.7, 96.0, 98.9], [49.42, 68.20]))
PAPER.update(_grid("Reptile", NICHOL, [97.68, 99.48, 89.43, 97.12], [49.97, 65.99]))
PAPER.update(_grid("Matching nets", VINYALS, [98.1, 98.9, 93.8, 98.5], [43.56, 55.31]))
PAPER.update(_grid("Meta-LSTM", RAVI, None, [43.44, 60.60]))
PAPER.update(_grid("MAML++", ANTONIOU, [99.47, None, 97.65, None], [52.15, 68.32]))
PAPER.update(_grid("Baseline++", CHEN, None, [51.87, 75.68]))
# Sinusoid regression, K = 5 support points, MSE after one inner step (the figure docs/benchmarks.md compares with).
PAPER[("sinusoid", 1, 5, "MAML")] = (0.67, "Finn et al. 2017, sinusoid regression, K = 5, 1 step (MSE)")

# Algorithms MetaCluster implements, by the paper's name (MAML++ is maml with its options: is_maml_plus_plus).
METHODS = {"maml": "MAML", "fomaml": "FOMAML", "protonet": "ProtoNets", "reptile": "Reptile", "matchingnet": "Matching nets",
           "lstm-meta": "Meta-LSTM", "pretrain-baseline++": "Baseline++", "pretrain-baseline": "Baseline",
           "mann": "MANN", "metanet": "MetaNet (weight generator)"}
IMPLEMENTED = set(METHODS.values()) | {"MAML++"}

DATASET_ORDER = {"omniglot": 0, "mini-imagenet": 1, "sinusoid": 2}
DATASET_NAMES = {"omniglot": "Omniglot", "mini-imagenet": "mini-ImageNet", "sinusoid": "Sinusoid"}


def method_of(algorithm, first_order=False, pretrain_head="cosine"):
    """The paper's name for a config's algorithm ("maml" with first_order is FOMAML; pretrain by its head)."""
    if algorithm == "maml" and first_order:
        algorithm = "fomaml"
    if algorithm == "pretrain":
        algorithm = "pretrain-baseline++" if pretrain_head == "cosine" else "pretrain-baseline"
    return METHODS.get(algorithm, algorithm)


def is_maml_plus_plus(config):
    """A maml run with MAML++'s three inner-loop changes on (what --maml++ sets; Antoniou et al. 2019)."""
    return config.get("algorithm") in ("maml", "fomaml") and all(config.get(k) for k in ("multi_step_loss", "per_step_bn", "learned_inner_lr"))


def _pick(results):
    """The evaluation entry a paper reports: the most inner steps (sinusoid: one step, as the figure above),
    transductive batch norm (as MAML's reference code) first."""
    usable = [r for r in results if r.get("accuracy") or r.get("mse")]
    if not usable:
        return None
    one_step_mse = [r for r in usable if r.get("mse") and r["steps"] == 1]
    if one_step_mse:
        return one_step_mse[0]
    most = max(r["steps"] for r in usable)
    at_most = [r for r in usable if r["steps"] == most]
    return next((r for r in at_most if r.get("batch_norm") == "transductive"), at_most[0])


def parse(line):
    """A result dict from one JSON object, or None when the line is not a held-out result of MetaCluster."""
    provenance = {"command": line.get("command_line"), "machine": line.get("machine"),
                  "wall_seconds": line.get("wall_seconds", line.get("seconds"))}
    if line.get("curve"):  # a learning-curve point (few episodes, mid-training), not a result
        return None
    if line.get("command") in ("train", "evaluate") and isinstance(line.get("config"), dict) and line.get("evaluation"):
        config = line["config"]
        # An evaluation of a trained checkpoint: its training time when the line carries it, not the scoring's.
        if "train_wall_seconds" in line:
            provenance["wall_seconds"] = line["train_wall_seconds"]
        picked = _pick(line["evaluation"].get("results", []))
        if picked is None:
            return None
        dataset, regression = config["dataset"], "mse" in picked
        metric = picked["mse"] if regression else picked["accuracy"]
        # evaluate --ways/--shots score a checkpoint on other tasks than it trained on (ProtoNets train 60-way).
        return dict(provenance, dataset=dataset, ways=line.get("ways", config.get("ways", 1)), shots=line.get("shots", config.get("shots")),
                    method="MAML++" if is_maml_plus_plus(config) else
                    method_of(config.get("algorithm"), config.get("first_order", False), config.get("pretrain_head", "cosine")),
                    mean=metric["mean"], ci95=metric["ci95"], regression=regression, steps=picked["steps"],
                    episodes=line["evaluation"].get("episodes"), iterations=line.get("round", line.get("iterations")))
    if line.get("engine") == "metacluster" and isinstance(line.get("eval"), dict) and "algo" in line:
        ev = line["eval"]
        if "acc_mean" in ev:  # bench on an image dataset
            if ev["acc_mean"] is None or "dataset" not in line:
                return None
            return dict(provenance, dataset=line["dataset"], ways=line["ways"], shots=line["shots"], method=method_of(line["algo"]),
                        mean=ev["acc_mean"], ci95=ev["acc_ci95"], regression=False, steps=ev.get("steps"),
                        episodes=ev.get("episodes"), iterations=line.get("iterations"))
        if "mse_1step" in ev and ev["mse_1step"]:  # bench on sinusoid: the papers quote one step
            return dict(provenance, dataset="sinusoid", ways=1, shots=line["k"], method=method_of(line["algo"]),
                        mean=ev["mse_1step"]["mean"], ci95=ev["mse_1step"]["ci95"], regression=True, steps=1,
                        episodes=ev.get("tasks"), iterations=line.get("iterations"))
    if line.get("bench") == "methods" and line.get("final"):  # bench/methods_omniglot.py: equal-time method table
        # A screen: every method trained for the same few CPU seconds, to compare them with each other — not a run that
        # tried to reach the paper's figure, so it never replaces one and stays out of the README's headline.
        return dict(provenance, command=line.get("command"), wall_seconds=line.get("train_cpu_seconds"),
                    screen=True, budget_cpu_seconds=line.get("budget_cpu_seconds"),
                    dataset=line["dataset"], ways=line["ways"], shots=line["shots"], method=method_of(line["method"]),
                    mean=line["accuracy"], ci95=line["ci95"], regression=False, steps=line.get("eval_steps"),
                    episodes=line.get("episodes"), iterations=line.get("iterations"))
    return None


def read(paths):
    """Results by (dataset, ways, shots, method), the last line read winning — except that an equal-time screen never
    replaces a full run."""
    results = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, text in enumerate(f, 1):
                text = text.strip()
                if not text.startswith("{"):
                    continue  # blank lines, comments, a peer's plain-text output
                try:
                    line = json.loads(text)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path} line {number}: not valid JSON ({e.msg}); fix or remove the line.")
                result = parse(line)
                if result is None:
                    continue
                key = (result["dataset"], result["ways"], result["shots"], result["method"])
                if result.get("screen") and key in results and not results[key].get("screen"):
                    continue  # a short equal-time screen does not replace a full run
                results[key] = result
    return results


def task(dataset, ways, shots):
    if dataset == "sinusoid":
        return f"Sinusoid K={shots}"
    return f"{DATASET_NAMES.get(dataset, dataset)} {ways}-way {shots}-shot"


def figure(value, regression):
    return f"{value:.2f}" if regression else f"{value:.2f} %"


def ours(result):
    if result["regression"]:
        return f"{result['mean']:.3f} ± {result['ci95']:.3f}"
    return f"{100 * result['mean']:.2f} ± {100 * result['ci95']:.2f} %"


def machine(m):
    if isinstance(m, str):
        return m
    if not isinstance(m, dict):
        return "—"
    return f"{m.get('cpu', '?')}, {m.get('isa', '?')}, {m.get('cores', '?')} cores"


def wall(seconds):
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def screen_note(result):
    """Marks a row from the equal-time screen (bench/methods_omniglot.py) with its budget."""
    if not result.get("screen"):
        return ""
    budget = result.get("budget_cpu_seconds")
    return " (equal-time screen" + (f", {float(budget):.0f} CPU s" if budget else "") + ")"


def cell(text):
    return str(text).replace("|", "\\|")


def rows(results):
    """Table rows, sorted by dataset, ways, shots, then method: each paper figure, and each result without one."""
    keys = set(PAPER) | set(results)
    ordered = sorted(keys, key=lambda k: (DATASET_ORDER.get(k[0], 9), k[0], k[1], k[2], k[3]))
    table = []
    for key in ordered:
        dataset, ways, shots, method = key
        paper = PAPER.get(key)
        result = results.get(key)
        regression = dataset == "sinusoid" if result is None else result["regression"]
        row = {"task": task(dataset, ways, shots), "method": method,
               "paper": figure(paper[0], regression) if paper else "—", "source": paper[1] if paper else "—"}
        if result is None:
            row.update(ours="not implemented" if method not in IMPLEMENTED else "not run yet",
                       episodes="—", iterations="—", wall="—", machine="—", command="—")
        else:
            row.update(ours=ours(result), episodes=str(result["episodes"] or "—"), iterations=str(result["iterations"] or "—"),
                       wall=wall(result["wall_seconds"]) + screen_note(result), machine=machine(result["machine"]),
                       command=f"`{result['command']}`" if result["command"] else "—")
        row["measured"] = result is not None
        row["screen"] = bool(result and result.get("screen"))
        table.append(row)
    return table


COLUMNS = [("task", "task"), ("method", "method"), ("paper", "paper"), ("ours", "ours (95 % CI)"), ("episodes", "test episodes"),
           ("iterations", "iterations"), ("wall", "wall time"), ("machine", "machine"), ("command", "command"), ("source", "paper's source")]
HEADLINE_COLUMNS = [("task", "task"), ("method", "method"), ("paper", "paper"), ("ours", "ours (95 % CI)"), ("wall", "wall time")]


def markdown_table(table, columns):
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[key]) for key, _ in columns) + " |" for r in table]
    return "\n".join(lines)


def headline(table):
    """The README's rows: every row of a full run (not the equal-time screen), or every measured row while there is no
    full run, or MAML's two 5-way 1-shot rows while nothing is measured."""
    full = [r for r in table if r["measured"] and not r["screen"]]
    if full:
        return full
    measured = [r for r in table if r["measured"]]
    if measured:
        return measured
    return [r for r in table if r["method"] == "MAML" and r["task"] in ("Omniglot 5-way 1-shot", "mini-ImageNet 5-way 1-shot")]


def page(table, sources):
    inputs = ", ".join(f"`{s}`" for s in sources) if sources else "none yet"
    return "\n".join([
        "# Results",
        "",
        "Our held-out test accuracy (sinusoid: MSE) beside the papers' figures. **Generated** by `python3 bench/results.py` from the",
        f"JSON lines the runs printed (read: {inputs}); do not edit by hand — rerun the script. Each measured row's",
        "command, machine and wall time are the ones its JSON line recorded. \"ours\" is the mean over the test episodes with its",
        "95 % confidence interval, after the run's evaluation steps (transductive batch norm where both were measured, as in",
        "MAML's reference code). The papers' Omniglot rows use 90° rotations as extra classes; see docs/commands.md for the",
        "data and docs/algorithms.md for the methods. Rows marked \"equal-time screen\" come from `bench/methods_omniglot.py`,",
        "which trains every method for the same few CPU seconds to compare them with each other: they say which methods learn",
        "fastest, not what a method reaches; the README's headline shows only the full runs.",
        "",
        markdown_table(table, COLUMNS),
        "",
    ])


def replace_between_markers(text, block, begin="<!-- results:begin -->", end="<!-- results:end -->", where="the README",
                            what="the headline rows"):
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"{where} has no '{begin}' … '{end}' markers; add them where {what} belong.")
    return text[:start + len(begin)] + "\n" + block + "\n" + text[stop:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="JSON lines files (train/evaluate --json, bench), oldest first")
    parser.add_argument("--out", default="docs/results.md", help="the page to write (default docs/results.md)")
    parser.add_argument("--readme", help="also write the headline rows between the results markers of this README")
    args = parser.parse_args(argv)
    if not args.files:
        # A page from no lines would replace every measured row with "not run yet" (and the README's headline too).
        raise SystemExit(f"no JSON lines files given, so {args.out} was left as it is: pass the files the page is built "
                         "from (its first lines list them), and any new one after them.")
    for path in args.files:
        try:
            open(path, encoding="utf-8").close()
        except OSError as e:
            raise SystemExit(f"cannot read {path}: {e.strerror}.")
    table = rows(read(args.files))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(page(table, args.files))
    if args.readme:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
        block = markdown_table(headline(table), HEADLINE_COLUMNS)
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(replace_between_markers(text, block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
