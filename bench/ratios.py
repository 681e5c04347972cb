#!/usr/bin/env python3
"""Reads the JSON lines of compare-peer.sh and prints, per benchmark, each engine/mode's speed and its ratio to the
best peer figure (speed: higher is better; the ratio is ours / peer)."""
import json
import sys
from collections import defaultdict

rows = defaultdict(dict)
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    key = "tasks_per_s" if "tasks_per_s" in d else "episodes_per_s"
    bench = ("sine" if key == "tasks_per_s" else "omniglot", d["algo"], d["threads"])
    who = ("metacluster" if d.get("engine") == "metacluster" else "peer") + " " + d.get("mode", "loop")
    rows[bench][who] = (d[key], key, d.get("peak_rss_mb"))

print("| benchmark | threads | engine / mode | speed | vs best peer | peak RSS MB |")
print("|---|---|---|---|---|---|")
for (kind, algo, threads), results in sorted(rows.items()):
    peers = [v[0] for k, v in results.items() if k.startswith("peer")]
    best = max(peers) if peers else None
    for who, (speed, key, rss) in sorted(results.items()):
        ratio = "%.2fx" % (speed / best) if best and who.startswith("metacluster") else ""
        print("| %s %s | %s | %s | %.1f %s | %s | %s |" % (kind, algo, threads, who, speed, key, ratio, "%.0f" % rss if rss else ""))
