#!/usr/bin/env bash
# Scaling with simulated GPU workers (issue 14 §1): one coordinator process, Redis, and 1 → 64 worker processes on
# this machine (loopback), each standing in for a GPU (--simulate-episode-ms: D ms of sleep an episode, real-sized
# deterministic contributions). For each worker count W it prints one JSON line per point (metacluster bench --scale):
#   strong scaling, 5-way Conv4-sized θ (112,893 parameters), meta-batch 256
#   weak scaling,   the same θ, meta-batch 8·W
#   strong scaling, a 1.1M-parameter θ (1,102,497), meta-batch 256
#   strong scaling, a 97-parameter θ, meta-batch 256: the control — the same processes, sleeps and calls with messages
#   of a few hundred bytes, so the gap to it is what θ's and the sums' bytes cost
# and draws efficiency (ideal / measured round time) against W into $OUT.png. Workers are added as W grows, never
# restarted. Needs: dotnet, redis-server, a Release build (dotnet build -c Release; the script builds if it is missing).
#
#   bench/scale.sh                              # the whole sweep (W = 1 2 4 8 16 32 64)
#   WORKERS="1 2 4" ROUNDS=8 bench/scale.sh     # a quick look
#   SLOTS=8 DISPATCH=silo WORKERS="8 16 32 64" bench/scale.sh   # GPU nodes of 8 slots, θ once per node (--per-silo)
#   SLOTS=8 DISPATCH=silo HUB_GROUP=4 WORKERS="32 64" bench/scale.sh   # …and the nodes' hubs in groups of 4 (--hub-group)
#
# Settings (environment): WORKERS (worker slots in all), SLOTS (slots a worker process, 1; WORKERS must be multiples),
# DISPATCH (slot: the coordinator calls every slot; silo: every process's hub, --per-silo), HUB_GROUP (with silo: hubs in
# groups of N, the coordinator calling one hub of each, --hub-group; 1), EPISODE_MS (10), ROUNDS (15; the first WARMUP=3 are left out of the median),
# MODELS ("334,334 1048,1048 8,8": MLP hidden sizes, the first also weak-scaled), BULK (true: θ and the hubs' sums cross
# processes over the bulk channel, --bulk-transfer; false: inside the grain messages), OUT (bench/results/scale-<date>),
# PORT_BASE (23000). Besides the bench's figures each line has the processes' CPU a round and the bytes the coordinator
# sent a round over its bulk channel (coordinator_bulk_sent_bytes_per_round, from its /metrics). Each worker process:
# workstation GC, one torch thread, passive OpenMP — measured ~150 MB RSS (anonymous) after a run, so 64 workers need
# ~10 GB: check `free -g` first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORKERS=${WORKERS:-"1 2 4 8 16 32 64"}
SLOTS=${SLOTS:-1}
DISPATCH=${DISPATCH:-slot}
HUB_GROUP=${HUB_GROUP:-1}
case $DISPATCH in slot) PER_SILO=();; silo) PER_SILO=(--per-silo --hub-group "$HUB_GROUP");; *) echo "DISPATCH is slot or silo (got $DISPATCH)" >&2; exit 2;; esac
[[ $DISPATCH == silo || $HUB_GROUP == 1 ]] || { echo "HUB_GROUP needs DISPATCH=silo" >&2; exit 2; }
for w in $WORKERS; do (( w % SLOTS == 0 )) || { echo "WORKERS must be multiples of SLOTS=$SLOTS (got $w)" >&2; exit 2; }; done
EPISODE_MS=${EPISODE_MS:-10}
BULK=${BULK:-true}
ROUNDS=${ROUNDS:-15}
WARMUP=${WARMUP:-3}
MODELS=${MODELS:-"334,334 1048,1048 8,8"}
OUT=${OUT:-$ROOT/bench/results/scale-$(date -u +%Y-%m-%d-%H%M)}
PORT_BASE=${PORT_BASE:-23000}
SERVER=$ROOT/src/MetaCluster.Server/bin/Release/net10.0/linux-x64/metacluster-server.dll
CLI=$ROOT/src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster.dll
CLUSTER_ID=scale-$$
LOGS=$(mktemp -d /tmp/metacluster-scale.XXXXXX)
REDIS_PORT=$PORT_BASE

[[ -f $SERVER ]] || dotnet build src/MetaCluster.Server -c Release >&2
[[ -f $CLI ]] || dotnet build src/MetaCluster.Cli -c Release >&2
mkdir -p "$(dirname "$OUT")"
: > "$OUT.jsonl"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Patient failure detection (--probe-timeout …): on two shared cores a silo may not answer a probe for seconds while
# others start, and the product's 1 s × 2 probes would declare it dead. Small, quiet processes: many share two cores here (a GPU node would run one per GPU).
# No thread-pool spinning before a worker thread sleeps: with dozens of processes on two cores the spinning was half of
# an idle process's CPU (3.1 % → 1.4 % of a core each, 17 processes).
# Steady state from the first timed round: everything JIT-compiled fully at first use (tiered compilation was still
# re-compiling during the points: half of the coordinator's samples), a 64 MB gen-0 budget and memory kept by the GC
# rather than returned and page-faulted again (2 × 8 slots, 112k parameters: 0.27 → 0.20 s a round).
export DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 DOTNET_gcServer=0 DOTNET_gcConcurrent=0 DOTNET_TieredCompilation=0 DOTNET_GCgen0size=0x4000000 DOTNET_GCRetainVM=1 MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=1

redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes --logfile "$LOGS/redis.log" >/dev/null
sleep 0.5

# server NAME ROLE INDEX [args…]: ports PORT_BASE + 10 + 3·INDEX …
server() {
  local name=$1 role=$2 index=$3; shift 3
  local port=$((PORT_BASE + 10 + 3 * index))
  dotnet "$SERVER" --role "$role" --name "$name" --redis "localhost:$REDIS_PORT" --cluster-id "$CLUSTER_ID" --advertised-ip 127.0.0.1 \
    --silo-port "$port" --gateway-port $((port + 1)) --http-port $((port + 2)) --threads 1 --membership-watchdog 0 \
    --probe-timeout 10 --missed-probes 3 --death-votes 2 --bulk-transfer "$BULK" "$@" \
    > "$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
}
cpu_ticks() { # PID…: user + system CPU ticks, summed
  local total=0 pid stat
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    set -- $stat
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
bulk_sent() { # bytes the coordinator has sent over its bulk channel (θ to the hubs or group leaders), from its /metrics
  curl -sf "http://127.0.0.1:$((PORT_BASE + 12))/metrics" | awk '/^metacluster_bulk_bytes_total\{.*direction="sent"/ {s += $NF} END {printf "%.0f", s}'
}
ready() { # INDEX: wait for /readyz
  local port=$((PORT_BASE + 10 + 3 * $1 + 2))
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server $1 not ready; logs in $LOGS" >&2; return 1
}

server coordinator coordinator 0
ready 0
started=0
for w in $WORKERS; do
  # Start the missing workers four at a time (each start costs a few CPU-seconds).
  while (( started < w / SLOTS )); do
    batch=()
    for _ in 1 2 3 4; do
      (( started < w / SLOTS )) || break
      started=$((started + 1))
      server "worker-$started" worker "$started" --simulate-episode-ms "$EPISODE_MS" --slots "$SLOTS"
      batch+=("$started")
    done
    for i in "${batch[@]}"; do ready "$i"; done
  done
  sleep 3 # let the coordinator's silo hear of the new members
  rss=$(ps -o rss= -p "$(IFS=,; echo "${PIDS[*]}")" | awk '{s+=$1} END {printf "%.0f", s/1024}')
  echo "# $w workers ($started processes × $SLOTS slots, $DISPATCH dispatch) up ($(uptime | sed 's/.*load average/load average/'); processes' RSS ${rss} MB)" >&2
  point() { # HIDDEN META_BATCH LABEL
    local coordinator_before workers_before line bulk_before
    coordinator_before=$(cpu_ticks "${PIDS[0]}"); workers_before=$(cpu_ticks "${PIDS[@]:1}"); bulk_before=$(bulk_sent)
    # A loaded machine may keep the client from connecting within its 20 s: try three times.
    for attempt in 1 2 3; do
      line=$(dotnet "$CLI" bench --scale --cluster "redis://localhost:$REDIS_PORT" --cluster-id "$CLUSTER_ID" --episode-ms "$EPISODE_MS" \
        --hidden "$1" --meta-batch "$2" --iterations "$ROUNDS" --scale-warmup "$WARMUP" --scale-label "$3" "${PER_SILO[@]}" | grep '^{') && break
      echo "# point W=$w hidden=$1 batch=$2 failed (attempt $attempt)" >&2
    done
    [[ -n $line ]] || return 0
    # CPU the processes used per round (all rounds, the run's start included): on a shared machine, where wall time
    # is other people's too, this is the steadier figure of what a round costs.
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=int(sys.argv[2]); hz=float(sys.argv[5])
d["bulk_transfer"]=sys.argv[6]=="true"; d["cpu_seconds_per_round_coordinator"]=round(int(sys.argv[3])/hz/r,4); d["cpu_seconds_per_round_workers"]=round(int(sys.argv[4])/hz/r,4)
d["coordinator_bulk_sent_bytes_per_round"]=round(float(sys.argv[7])/r)
print(json.dumps(d,separators=(",",":")))' "$line" "$ROUNDS" $(( $(cpu_ticks "${PIDS[0]}") - coordinator_before )) \
      $(( $(cpu_ticks "${PIDS[@]:1}") - workers_before )) "$(getconf CLK_TCK)" "$BULK" "$(( $(bulk_sent) - bulk_before ))" | tee -a "$OUT.jsonl"
  }
  first=1
  for hidden in $MODELS; do
    point "$hidden" 256 strong
    if (( first )); then point "$hidden" $((8 * w)) weak; first=0; fi
  done
done
dotnet "$CLI" bench --scale-plot "$OUT.jsonl" --scale-png "$OUT.png" >&2
echo "# lines in $OUT.jsonl, chart $OUT.png, logs in $LOGS" >&2
