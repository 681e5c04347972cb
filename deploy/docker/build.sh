#!/usr/bin/env bash
# Builds the MetaCluster image without a container registry: a local Debian base (debootstrap, when none is given), a
# self-contained publish of metacluster-server and metacluster on the host, and deploy/docker/Dockerfile.local around it.
# Also builds the Redis image the podman run of the chart uses (deploy/docker/Dockerfile.redis-local).
#
#   deploy/docker/build.sh                               # metacluster:0.1.0 and metacluster-redis:7-local
#   TAG=metacluster:dev BASE_IMAGE=localhost/debian-min:bookworm deploy/docker/build.sh
#
# With a registry, use deploy/docker/Dockerfile instead (official .NET SDK/ASP.NET base images; see README.md there).
# Env: TAG, REDIS_TAG (the two image names), BASE_IMAGE (a local Debian image; made and named so when absent),
# WORK (artifacts/image: the publish and the debootstrap tree). Needs podman (+ runc), debootstrap and the .NET SDK.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/deploy/podman/podman.sh"
TAG=${TAG:-metacluster:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/helm/metacluster/Chart.yaml")}
REDIS_TAG=${REDIS_TAG:-metacluster-redis:7-local}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-min:bookworm}
WORK=${WORK:-$root/artifacts/image}
publish=$WORK/publish
secs() { echo $(( $(date +%s) - $1 )); }

t=$(date +%s)
if pm image exists "$BASE_IMAGE"; then
  echo "base image: $BASE_IMAGE (present)"
else
  make_debian_base "$BASE_IMAGE" "$WORK"
  echo "base image: $BASE_IMAGE made in $(secs "$t") s"
fi

# Self-contained: the base has no .NET. Both programs go to one folder (they share every native library; the server
# is published last, so its copy of a shared file is kept). The publish patches libLibTorchSharp.so's GLIBCXX_3.4.32
# need where the host's libstdc++ lacks it — the image's Debian is the host's, so the patched copy is the one it needs.
t=$(date +%s)
rm -rf "$publish" && mkdir -p "$WORK" && : >"$WORK/publish.log"
for project in src/MetaCluster.Cli/MetaCluster.Cli.csproj src/MetaCluster.Server/MetaCluster.Server.csproj; do
  dotnet publish "$root/$project" -c Release -r linux-x64 --self-contained true -o "$publish" -nologo -v quiet \
    >>"$WORK/publish.log" 2>&1 || { tail -n 30 "$WORK/publish.log" >&2; echo "error: dotnet publish $project failed" >&2; exit 1; }
done
rm -f "$publish"/*.pdb
test -x "$publish/metacluster-server" && test -x "$publish/metacluster" && test -f "$publish/libLibTorchSharp.so"
echo "publish: $(du -sh "$publish" | cut -f1) in $(secs "$t") s"

t=$(date +%s)
pm build --network host --layers=false "${PODMAN_ULIMITS[@]}" -q -f "$root/deploy/docker/Dockerfile.local" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$TAG" "$publish" >/dev/null
echo "image: $TAG built in $(secs "$t") s, $(pm image inspect --format '{{.Size}}' "$TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
t=$(date +%s)
pm build --network host --layers=false "${PODMAN_ULIMITS[@]}" -q -f "$root/deploy/docker/Dockerfile.redis-local" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$REDIS_TAG" "$root/deploy/docker" >/dev/null
echo "image: $REDIS_TAG built in $(secs "$t") s, $(pm image inspect --format '{{.Size}}' "$REDIS_TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
