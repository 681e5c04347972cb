#!/usr/bin/env python3
"""check.sh's one JSON line: usage report.py RUN_DIR KEY=VALUE...

RUN_DIR holds each bench's last JSON line (NAME.json) or its error (NAME.error), and notes.txt; the KEY=VALUE pairs are
what check.sh learnt about the machine (device, torch, shim).
"""
import json
import os
import sys


def load(run_dir, name):
    path = os.path.join(run_dir, name + ".json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f), None
    path = os.path.join(run_dir, name + ".error")
    error = open(path).read().strip() if os.path.exists(path) else "not run"
    return None, error


def value(text):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text or None


def per_iteration(bench):
    return round(bench["seconds"] / bench["iterations"], 4) if bench else None


def main():
    run_dir = sys.argv[1]
    facts = dict(pair.split("=", 1) for pair in sys.argv[2:])
    result = {"check": "metacluster-gpu"}
    result.update({k: value(v) for k, v in sorted(facts.items())})
    errors = {}
    benches = {}
    for name in ("mc_sine", "mc_omniglot", "peer_sine", "peer_omniglot"):
        benches[name], error = load(run_dir, name)
        if error:
            errors[name] = error
    mc_sine, mc_omni, peer_sine, peer_omni = (benches[n] for n in ("mc_sine", "mc_omniglot", "peer_sine", "peer_omniglot"))
    result["metacluster"] = {
        "sine_maml_tasks_per_s": mc_sine and mc_sine.get("tasks_per_s"),
        "sine_mode": mc_sine and mc_sine.get("mode"),
        "omniglot_conv4_maml_s_per_iteration": per_iteration(mc_omni),
        # The first round pays the GPU's warm-up (cuDNN, allocator); the median round is the steady figure.
        "omniglot_round_seconds_median": mc_omni and mc_omni.get("round_seconds_median"),
        "omniglot_mode": mc_omni and mc_omni.get("mode"),
        "torch": (mc_sine or mc_omni or {}).get("torch"),
    }
    result["peer"] = {
        "sine_maml_tasks_per_s": peer_sine and peer_sine.get("tasks_per_s"),
        "sine_mode": peer_sine and peer_sine.get("mode"),
        "omniglot_conv4_maml_s_per_iteration": per_iteration(peer_omni),
        "torch": (peer_sine or peer_omni or {}).get("torch"),
    }
    settings = mc_omni or {}
    result["omniglot_settings"] = {k: settings.get(k) for k in ("ways", "shots", "query", "meta_batch", "iterations", "train_classes")}
    result["sine_settings"] = {k: (mc_sine or {}).get(k) for k in ("iterations", "meta_batch", "k", "inner_steps")}
    if mc_sine and peer_sine:
        result["sine_speedup_vs_peer"] = round(mc_sine["tasks_per_s"] / peer_sine["tasks_per_s"], 3)
    if mc_omni and peer_omni:
        result["omniglot_speedup_vs_peer"] = round(per_iteration(peer_omni) / per_iteration(mc_omni), 3)
    if errors:
        result["errors"] = errors
    notes_path = os.path.join(run_dir, "notes.txt")
    notes = [line for line in open(notes_path).read().splitlines() if line] if os.path.exists(notes_path) else []
    if notes:
        result["notes"] = notes
    print(json.dumps(result))
    return 1 if errors.keys() & {"mc_sine", "mc_omniglot"} else 0


if __name__ == "__main__":
    sys.exit(main())
