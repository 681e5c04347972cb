#!/usr/bin/env bash
# Federated meta-learning on Omniglot by alphabet (issue 11): the 30 background alphabets are the training clients,
# the 20 evaluation alphabets the new clients; 5-way 1-shot episodes within one alphabet, 8 clients a round, one seed.
# Runs fedavg (scored after fine-tuning on each new client's support set, as every algorithm is), fedreptile,
# fedmeta-fomaml, fedmeta-maml, perfedavg, and centralized MAML (`train --split lake`: the 964 background characters,
# i.e. the same classes as the 30 training alphabets, with the same episode budget) scored by `federated evaluate` on
# the same new clients. At most two runs at a time, each on one libtorch thread (--in-process: one core a run).
#
# Every JSON line goes to $OUT (default bench/results/federated-omniglot-<date>.jsonl), run by run:
#   kind=curve|final   a federated run's learning curve (round 0, every EVAL_EVERY rounds, the end): round, algorithm,
#                      mean, ci95, p10 (the new clients' accuracy after fine-tuning), bytes_per_round, episodes_trained
#   kind=evaluate      centralized MAML's final point, the same fields (source=centralized, bytes_per_round null)
#   command=...        each run's summary line (federated simulate / federated evaluate --json)
#
# Env: ROUNDS (100), LOCAL_EPISODES (4), CLIENTS_PER_ROUND (8), EVAL_EVERY (ROUNDS/10, at least 1), EVAL_EPISODES (10
#      per new client), EVAL_STEPS (3), SEED (1), DATA (../shared/data/omniglot), OUT, ALGORITHMS (the five above
#      and "maml" for centralized), JOBS (2).
# Episode budget: ROUNDS × CLIENTS_PER_ROUND × LOCAL_EPISODES local episodes for a federated run; centralized MAML runs
# ROUNDS iterations of meta-batch CLIENTS_PER_ROUND × LOCAL_EPISODES — the same number of episodes.
# A smoke test: ROUNDS=2 EVAL_EPISODES=1 bench/federated-omniglot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-100}
LOCAL_EPISODES=${LOCAL_EPISODES:-4}
CLIENTS_PER_ROUND=${CLIENTS_PER_ROUND:-8}
EVAL_EVERY=${EVAL_EVERY:-$(( ROUNDS / 10 > 0 ? ROUNDS / 10 : 1 ))}
EVAL_EPISODES=${EVAL_EPISODES:-10}
EVAL_STEPS=${EVAL_STEPS:-3}
SEED=${SEED:-1}
DATA=${DATA:-../shared/data/omniglot}
OUT=${OUT:-bench/results/federated-omniglot-$(date -u +%Y-%m-%d).jsonl}
ALGORITHMS=${ALGORITHMS:-"fedavg fedreptile fedmeta-fomaml fedmeta-maml perfedavg maml"}
JOBS=${JOBS:-2}
[ -f "$DATA/images_background.zip" ] && [ -f "$DATA/images_evaluation.zip" ] \
  || { echo "federated-omniglot: $DATA must hold images_background.zip and images_evaluation.zip (set DATA)" >&2; exit 2; }
mkdir -p "$(dirname "$OUT")"
dotnet build src/MetaCluster.Cli -c Release -v quiet -nologo >/dev/null
MC="dotnet src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster.dll"
work=$(mktemp -d "${TMPDIR:-/tmp}/federated-omniglot.XXXXXX")
trap 'rm -rf "$work"' EXIT
META_BATCH=$(( CLIENTS_PER_ROUND * LOCAL_EPISODES ))
COMMON=(--dataset omniglot --data "$DATA" --ways 5 --shots 1 --seed "$SEED" --threads 1)

federated() { # ALGORITHM: a federated run; its summary line, then its curve
  local a=$1 dir="$work/$1"
  mkdir -p "$dir"
  $MC federated simulate "${COMMON[@]}" --partition alphabet --algorithm "$a" --clients-per-round "$CLIENTS_PER_ROUND" \
    --local-episodes "$LOCAL_EPISODES" --rounds "$ROUNDS" --in-process --checkpoint "$dir/federated.mcc" --overwrite \
    --eval-every "$EVAL_EVERY" --curve "$dir/curve.jsonl" --eval-episodes "$EVAL_EPISODES" --eval-steps "$EVAL_STEPS" \
    --no-eval --json >"$dir/summary.jsonl"
  cat "$dir/summary.jsonl" "$dir/curve.jsonl" >"$dir/lines.jsonl"
}

centralized() { # centralized MAML on the Lake background split, the same episode budget, scored on the new alphabets
  local dir="$work/maml"
  mkdir -p "$dir"
  $MC train "${COMMON[@]}" --split lake --rotate --algorithm maml --queries 15 --meta-batch "$META_BATCH" --iterations "$ROUNDS" \
    --inner-lr 0.4 --inner-steps 1 --head-init zeros --in-process --no-eval --checkpoint-dir "$dir" --overwrite --json >"$dir/train.jsonl"
  $MC federated evaluate --checkpoint "$dir/checkpoint.mcc" --dataset omniglot --partition alphabet --data "$DATA" \
    --episodes "$EVAL_EPISODES" --steps "$EVAL_STEPS" --seed "$SEED" --curve "$dir/curve.jsonl" --json >"$dir/summary.jsonl"
  cat "$dir/summary.jsonl" "$dir/curve.jsonl" >"$dir/lines.jsonl"
}

# At most $JOBS runs at a time; each run's lines are appended in the order of ALGORITHMS once all have finished.
failed=0
running=0
for a in $ALGORITHMS; do
  if [ "$running" -ge "$JOBS" ]; then wait -n || failed=$((failed + 1)); running=$((running - 1)); fi
  echo "federated-omniglot: $a ($ROUNDS rounds)" >&2
  if [ "$a" = maml ]; then centralized & else federated "$a" & fi
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do wait -n || failed=$((failed + 1)); running=$((running - 1)); done
for a in $ALGORITHMS; do
  if [ -f "$work/$a/lines.jsonl" ]; then cat "$work/$a/lines.jsonl" >>"$OUT"; else echo "federated-omniglot: $a failed; no lines" >&2; fi
done
echo "federated-omniglot: appended to $OUT" >&2
exit $(( failed > 0 ? 1 : 0 ))
