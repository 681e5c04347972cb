#!/usr/bin/env bash
# A long run as a learning curve: trains in segments of STEP rounds — or of STEP minutes, written "10m" — with
# `train --resume` (resuming gives the same bits as one run), scores CURVE_EPISODES held-out episodes after each segment (one JSON line with "curve": true and
# the training seconds so far), and stops at TARGET rounds or when the next segment would end after DEADLINE; then
# scores the last checkpoint on FINAL_EPISODES episodes for each WAYS:SHOTS in FINALS (one result line each). Run it
# again with a later TARGET or DEADLINE and it continues the checkpoint in DIR. The training time on every line
# ("train_wall_seconds", which bench/results.py reports) is the one the checkpoint carries: the wall seconds of every
# round that made it, whichever segment ran them and however a segment ended.
#
#   bench/learning_curve.sh OUT DIR STEP TARGET [train options of a new run…]
#   DEADLINE=$(date -d '+2 hours' +%s) bench/learning_curve.sh bench/results/mamlpp.jsonl runs/mamlpp 15m 75000 \
#       --dataset omniglot --data ../shared/data/omniglot --algorithm maml --maml++
#
# Minutes keep the run's own length: its cosine or linear learning-rate schedule is laid over --iterations, so
# segments of rounds (which set --iterations to each segment's end) suit only constant or step-decay schedules.
#
# Environment: CLI (default the Release build), DEADLINE (epoch seconds; default none), CURVE_EPISODES (200),
# FINAL_EPISODES (600), FINALS (default: the run's own ways and shots, e.g. "5:1 20:1 5:5 20:5"), SEGMENT_SECONDS
# (a guess of one segment's wall time, so the last one ends before DEADLINE; default 600), SEGMENT_OPTIONS (given to
# every segment, the resumed ones too — e.g. "--in-process" so a run beside another keeps to one core; default none).
#
# To stop early, send SIGTERM (or Ctrl+C) to this script — not to its process group: it asks the running segment to
# stop, which finishes its round and saves the checkpoint (with its training seconds), and exits with 130 without
# scoring. Run it again to continue.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,17p' "$0"; exit 2; }
OUT=$1 DIR=$2 STEP=$3 TARGET=$4
shift 4
CLI=${CLI:-$(dirname "$0")/../src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster}
CURVE_EPISODES=${CURVE_EPISODES:-200} FINAL_EPISODES=${FINAL_EPISODES:-600} SEGMENT_SECONDS=${SEGMENT_SECONDS:-600}
read -r -a segment_options <<< "${SEGMENT_OPTIONS:-}"
DEADLINE=${DEADLINE:-0}
mkdir -p "$DIR"

add_fields() { # JSON line on stdin + python assignments → the line with the fields added
  python3 -c "import json, sys; r = json.loads(sys.stdin.read().strip().splitlines()[-1]); $1; print(json.dumps(r))"
}
header_field() { # checkpoint FIELD → the value in its JSON header (after magic, version and header length)
  python3 -c "import json, struct, sys; d = open(sys.argv[1], 'rb').read(); n = struct.unpack_from('<i', d, 12)[0]; print(json.loads(d[16:16 + n]).get(sys.argv[2]))" "$1" "$2"
}

# A segment runs in the background so that a signal reaches this script at once (bash runs a trap only when the
# foreground command ends); the trap passes it on and the segment's JSON still comes back.
stopping=0 segment_pid=0
stop() { stopping=1; [ "$segment_pid" -eq 0 ] || kill -TERM "$segment_pid" 2>/dev/null || true; }
trap stop TERM INT
run_segment() { # train options → the segment's JSON line in $DIR/segment.json, once it has ended however it ends
  "$CLI" train "$@" > "$DIR/segment.json" &
  segment_pid=$!
  while kill -0 "$segment_pid" 2>/dev/null; do wait "$segment_pid" || true; done
  segment_pid=0
}

round=0
[ -f "$DIR/checkpoint.mcc" ] && round=$(header_field "$DIR/checkpoint.mcc" Round)
while [ "$round" -lt "$TARGET" ]; do
  if [ "$DEADLINE" -gt 0 ] && [ $(( $(date +%s) + SEGMENT_SECONDS )) -gt "$DEADLINE" ]; then break; fi
  if [[ $STEP == *m ]]; then
    segment=(--time-limit "${STEP%m}")
    [ "$round" -gt 0 ] || segment+=(--iterations "$TARGET")
  else
    segment=(--iterations $(( round + STEP < TARGET ? round + STEP : TARGET )))
  fi
  if [ "$round" -eq 0 ] && [ ! -f "$DIR/checkpoint.mcc" ]; then
    run_segment "$@" "${segment[@]}" "${segment_options[@]}" --checkpoint-dir "$DIR" --checkpoint-every 0 --no-eval --json --overwrite
  else
    run_segment --resume --checkpoint-dir "$DIR" "${segment[@]}" "${segment_options[@]}" --no-eval --json
  fi
  json=$(cat "$DIR/segment.json")
  [ -n "$json" ] || { echo "learning_curve: the segment printed no JSON (see its messages above); $DIR/checkpoint.mcc holds the last saved round." >&2; exit 1; }
  round=$(header_field "$DIR/checkpoint.mcc" Round)
  if [ "$stopping" -eq 1 ]; then
    echo "learning_curve: stopped at round $round with $(header_field "$DIR/checkpoint.mcc" TrainingSeconds) training seconds; run the same command again to continue." >&2
    exit 130
  fi
  "$CLI" evaluate --checkpoint "$DIR/checkpoint.mcc" --episodes "$CURVE_EPISODES" --batch-norm transductive --json \
    | add_fields "r.update(curve=True)" | tee -a "$OUT" | cut -c1-160
done
for task in ${FINALS:-own}; do
  options=()
  [ "$task" = own ] || options=(--ways "${task%%:*}" --shots "${task##*:}")
  "$CLI" evaluate --checkpoint "$DIR/checkpoint.mcc" --episodes "$FINAL_EPISODES" "${options[@]}" --json | tee -a "$OUT" | cut -c1-160
done
