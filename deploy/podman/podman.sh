# Sourced by deploy/docker/build.sh and deploy/podman/*.sh: podman as this kind of machine runs it.
# The default OCI runtime (crun) and podman's default ulimits are refused in some sandboxes (this CI's included): runc
# and explicit, modest ulimits work everywhere we tried. PODMAN_RUNTIME overrides the runtime ("" = podman's default).
PODMAN_RUNTIME=${PODMAN_RUNTIME-runc}
PODMAN_ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
pm() { if [ -n "$PODMAN_RUNTIME" ]; then podman --runtime "$PODMAN_RUNTIME" "$@"; else podman "$@"; fi; }

# Makes a minimal Debian base image from the Debian mirror apt already uses (no container registry needed).
# make_debian_base IMAGE WORKDIR
make_debian_base() {
  local image=$1 work=$2 suite mirror
  command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; return 2; }
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$work/rootfs" && mkdir -p "$work"
  echo "base image: debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; echo "error: debootstrap failed (log: $work/debootstrap.log)" >&2; return 1; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | pm import - "$image" >"$work/import.log" 2>&1 \
    || { cat "$work/import.log" >&2; echo "error: podman import failed" >&2; return 1; }
  rm -rf "$work/rootfs"
}
