#!/usr/bin/env python3
"""Pairs each MetaCluster bench line with the peer line that follows it and prints the speed ratios."""
import json
import sys

lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
print("| benchmark | threads | metacluster | peer | ratio (ours / peer) |")
print("|---|---|---|---|---|")
for ours, peer in zip(lines, lines[1:]):
    if ours.get("engine") != "metacluster" or peer.get("engine") == "metacluster":
        continue
    key = "tasks_per_s" if "tasks_per_s" in ours else "episodes_per_s"
    name = ("sine " if key == "tasks_per_s" else "omniglot ") + ours["algo"]
    print("| %s | %s | %.1f %s | %.1f | %.2fx |" % (name, ours["threads"], ours[key], key, peer[key], ours[key] / peer[key]))
