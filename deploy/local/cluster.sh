#!/usr/bin/env bash
# A local MetaCluster cluster on loopback: redis-server, one coordinator and N worker server processes, a short
# training run through the `metacluster` CLI against it, then everything this script started is stopped (by PID).
#
#   deploy/local/cluster.sh                      # 2 workers, 300 sinusoid MAML rounds
#   WORKERS=3 ITERATIONS=1000 deploy/local/cluster.sh --algorithm reptile
#   KEEP=1 deploy/local/cluster.sh               # leave the cluster up after the run (Ctrl+C stops it)
#
# Needs redis-server (apt-get install redis-server) and a Release build (dotnet build -c Release). Arguments are
# passed to `metacluster train`. Logs go to $LOGS (default runs/local-cluster/). Ports: REDIS_PORT (6390), the
# coordinator's silo/gateway/http 11111/30000/8080, worker i's 11111+i/30000+i/8080+i.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORKERS=${WORKERS:-2}
ITERATIONS=${ITERATIONS:-300}
REDIS_PORT=${REDIS_PORT:-6390}
LOGS=${LOGS:-runs/local-cluster}
CONFIGURATION=${CONFIGURATION:-Release}
SERVER=src/MetaCluster.Server/bin/$CONFIGURATION/net10.0/linux-x64/metacluster-server
CLI=src/MetaCluster.Cli/bin/$CONFIGURATION/net10.0/linux-x64/metacluster
CLUSTER_ID=local-$$
PASSWORD=${REDIS_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}

command -v redis-server >/dev/null || { echo "error: redis-server is not installed (apt-get install redis-server)" >&2; exit 2; }
[ -x "$SERVER" ] && [ -x "$CLI" ] || { echo "error: build first: dotnet build -c $CONFIGURATION" >&2; exit 2; }
mkdir -p "$LOGS"

pids=()
stop() { # SIGTERM (a graceful leave), up to 40 s, then SIGKILL
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
stop_all() {
  # Servers first — newest first, each leaving the cluster through Redis — then redis itself.
  local servers=("${pids[@]:1}")
  for ((i = ${#servers[@]} - 1; i >= 0; i--)); do stop "${servers[$i]}"; done
  [ ${#pids[@]} -gt 0 ] && stop "${pids[0]}"
  echo "stopped: ${pids[*]}"
}
trap stop_all EXIT

wait_ready() { # http port, name, pid
  for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; then echo "$2 ready (http://127.0.0.1:$1/metrics)"; return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "error: $2 exited; see $LOGS/$2.log" >&2; tail -20 "$LOGS/$2.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "error: $2 did not become ready in 60 s; see $LOGS/$2.log" >&2; exit 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$PASSWORD" --save "" --appendonly no >"$LOGS/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" -a "$PASSWORD" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS="127.0.0.1:$REDIS_PORT,password=$PASSWORD"
common=(--redis "$REDIS" --cluster-id "$CLUSTER_ID" --advertised-ip 127.0.0.1 --threads 1)

"$SERVER" --role coordinator "${common[@]}" --name coordinator --silo-port 11111 --gateway-port 30000 --http-port 8080 >"$LOGS/coordinator.log" 2>&1 &
pids+=($!)
wait_ready 8080 coordinator "${pids[-1]}"
for i in $(seq 1 "$WORKERS"); do
  "$SERVER" --role worker "${common[@]}" --name "worker-$i" --silo-port $((11111 + i)) --gateway-port $((30000 + i)) --http-port $((8080 + i)) >"$LOGS/worker-$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$WORKERS"); do wait_ready $((8080 + i)) "worker-$i" "${pids[$((i + 1))]}"; done

"$CLI" train --cluster "redis://$REDIS" --cluster-id "$CLUSTER_ID" --iterations "$ITERATIONS" --checkpoint-dir "$LOGS/checkpoints" --overwrite "$@"

if [ "${KEEP:-0}" = 1 ]; then
  echo "cluster up: --cluster redis://127.0.0.1:$REDIS_PORT,password=… --cluster-id $CLUSTER_ID (password in REDIS_PASSWORD); Ctrl+C stops it"
  wait
fi
