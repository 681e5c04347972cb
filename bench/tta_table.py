#!/usr/bin/env python3
"""The time-to-accuracy tables of docs/benchmarks.md from the JSON lines bench/time_to_accuracy.py printed: accuracy
and training CPU seconds every --step iterations on both sides, then the first scoring at or above each threshold.

  python3 bench/tta_table.py bench/results/time-to-accuracy-2026-12-01.jsonl [--write docs/benchmarks.md]

With --write the two tables replace what stands between the file's <!-- tta-curve:begin/end --> and
<!-- tta-thresholds:begin/end --> markers, so the page cannot drift from the measured lines.
"""
import argparse
import json

from results import replace_between_markers

SIDES = ("metacluster", "pytorch-peer")


def load(path):
    """Per side, iteration → its last point (a resumed run may have scored an iteration again)."""
    points = {side: {} for side in SIDES}
    with open(path) as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                if row.get("bench") == "time-to-accuracy" and row.get("side") in points and not row.get("summary") \
                        and not row.get("confirm"):
                    points[row["side"]][row["iterations"]] = row
    return points


def cell(row):
    if row is None:
        return "— | —"
    return f"{row['train_cpu_seconds']:.0f} | {100 * row['accuracy']:.1f} ± {100 * row['ci95']:.1f} %"


def first_at(points, threshold):
    return next((points[i] for i in sorted(points) if points[i]["accuracy"] >= threshold), None)


def last_point(side):
    return side[max(side)]


def not_yet(side):
    """A side that has not reached a threshold: the CPU seconds it has spent, its best and its last scoring (a
    single scoring can dip far below the trend, so the last alone misleads)."""
    last = last_point(side)
    best = max(side.values(), key=lambda r: (r["accuracy"], -r["iterations"]))
    text = f"not yet in {last['train_cpu_seconds']:,.0f} s (best {100 * best['accuracy']:.1f} % at {best['iterations']:,} it."
    if best is not last:
        text += f", last {100 * last['accuracy']:.1f} % at {last['iterations']:,} it."
    return text + ")"


def spent(side):
    """The training CPU seconds of a side's last scoring (0 for a side not run)."""
    return last_point(side)["train_cpu_seconds"] if side else 0.0


def threshold_rows(ours, peer, thresholds):
    """Per threshold: its label, each side's time to it, and the peer's time over ours. Where only one side has
    reached it, the other's CPU seconds so far bound the ratio: the peer not there after P s while we took M s
    means it needs more than P / M times our time (and the reverse gives an upper bound)."""
    rows = []
    for threshold in thresholds:
        reached = [first_at(side, threshold) for side in (ours, peer)]
        described = []
        for side, row in zip((ours, peer), reached):
            if row is not None:
                described.append(f"{row['train_cpu_seconds']:,.0f} s ({row['iterations']:,} it.)")
            else:
                described.append(not_yet(side) if side else "not run")
        ratio = "—"
        if all(reached):
            ratio = f"{reached[1]['train_cpu_seconds'] / reached[0]['train_cpu_seconds']:.2f}×"
        elif reached[0] and spent(peer) > reached[0]["train_cpu_seconds"]:
            ratio = f"> {spent(peer) / reached[0]['train_cpu_seconds']:.2f}×"
        elif reached[1] and spent(ours) > reached[1]["train_cpu_seconds"]:
            ratio = f"< {reached[1]['train_cpu_seconds'] / spent(ours):.2f}×"
        rows.append((f"{100 * threshold:g} %", *described, ratio))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("jsonl")
    p.add_argument("--step", type=int, default=100, help="iterations between rows of the first table")
    p.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9,0.95")
    p.add_argument("--write", metavar="FILE", help="replace the tables between FILE's tta markers instead of printing them")
    args = p.parse_args()
    points = load(args.jsonl)
    ours, peer = points["metacluster"], points["pytorch-peer"]

    curve, thresholds = tables(ours, peer, args.step, (float(t) for t in args.thresholds.split(",")))
    if not args.write:
        print(curve + "\n\n" + thresholds)
        return
    with open(args.write, encoding="utf-8") as f:
        text = f.read()
    for name, table in (("tta-curve", curve), ("tta-thresholds", thresholds)):
        text = replace_between_markers(text, table, f"<!-- {name}:begin -->", f"<!-- {name}:end -->", args.write,
                                       "the time-to-accuracy tables")
    with open(args.write, "w", encoding="utf-8") as f:
        f.write(text)


def tables(ours, peer, step, thresholds):
    """The two markdown tables: both sides every `step` iterations, and the first scoring at each threshold."""
    curve = ["| iterations | MetaCluster: training CPU s | accuracy | PyTorch peer: training CPU s | accuracy |",
             "|---|---|---|---|---|"]
    last = max([*ours, *peer], default=0)
    for i in sorted(set(range(step, last + 1, step)) | {max(ours, default=0), max(peer, default=0)} - {0}):
        curve.append(f"| {i} | {cell(ours.get(i))} | {cell(peer.get(i))} |")
    reached = ["| held-out accuracy | MetaCluster | PyTorch peer | ratio |", "|---|---|---|---|"]
    reached += ["| " + " | ".join(row) + " |" for row in threshold_rows(ours, peer, thresholds)]
    return "\n".join(curve), "\n".join(reached)


if __name__ == "__main__":
    main()
