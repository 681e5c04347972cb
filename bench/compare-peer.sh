#!/usr/bin/env bash
# Runs MetaCluster's `bench` and the plain-PyTorch peer (../shared/bench-peer) back to back, same settings, and
# appends every JSON line to $OUT (default bench/results/compare.jsonl); then prints the ratios.
# Needs Debian's PyTorch for the peer: apt-get install -y python3-torch python3-pil.
# Env: PEER (default ../shared/bench-peer next to the repo), ITER (sine iterations, default 1000),
#      OMNI_ITER (default 10), THREADS ("1 2"), WHAT ("sine omniglot"), DATA (Omniglot zips folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=${PEER:-../shared/bench-peer}
OUT=${OUT:-bench/results/compare.jsonl}
ITER=${ITER:-1000}
OMNI_ITER=${OMNI_ITER:-10}
THREADS=${THREADS:-"1 2"}
WHAT=${WHAT:-"sine omniglot"}
DATA=${DATA:-../shared/data/omniglot}
PY=${PY:-/usr/bin/python3}
mkdir -p "$(dirname "$OUT")"
dotnet build src/MetaCluster.Cli -c Release -v quiet -nologo >/dev/null
MC="dotnet src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster.dll"

for t in $THREADS; do
  if [[ " $WHAT " == *" sine "* ]]; then
    for algo in maml fomaml reptile; do
      # Reptile: the peer's default is a constant step size (no annealing); ours anneals unless told not to.
      extra=""; [ $algo = reptile ] && extra="--outer-lr-final none"
      for batching in auto loop; do
        $MC bench --dataset sinusoid --algorithm $algo --batching $batching --iterations "$ITER" --threads "$t" --eval-tasks 1000 $extra | tee -a "$OUT"
      done
      for mode in loop batched; do
        $PY "$PEER/maml_sine.py" --algo $algo --mode $mode --iterations "$ITER" --threads "$t" --eval-tasks 1000 | tee -a "$OUT"
      done
    done
  fi
  if [[ " $WHAT " == *" omniglot "* ]]; then
    for algo in maml fomaml; do
      $MC bench --dataset omniglot --data "$DATA" --algorithm $algo --iterations "$OMNI_ITER" --threads "$t" --eval-episodes 100 | tee -a "$OUT"
      # The peer prints no memory figure: its peak RSS comes from /usr/bin/time and joins its JSON line.
      /usr/bin/time -f %M -o /tmp/peer-rss.$$ $PY "$PEER/maml_omniglot.py" --data "$DATA" --algo $algo --iterations "$OMNI_ITER" --threads "$t" --eval-episodes 100 \
        | $PY -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d["peak_rss_mb"]=round(int(open(sys.argv[1]).read().split()[-1])/1024,1); print(json.dumps(d))' /tmp/peer-rss.$$ \
        | tee -a "$OUT"
    done
  fi
done
$PY bench/ratios.py "$OUT"
