#!/usr/bin/env bash
# Proves build/TorchBackend.targets: a non-CPU build (here TorchBackend=external, which restores offline; cuda needs
# TorchSharp-cuda-linux from nuget.org) carries no CPU libtorch, and one that would is refused with the package named.
#
#   build/check-torch-backend.sh      # exit 0 when both hold
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/artifacts/torch-backend-check"   # under the repository: the probe picks up Directory.Build.* and the pins
rm -rf "$work" && mkdir -p "$work/probe"
failed=0

echo "1. MetaCluster.Core with TorchBackend=external builds, and its output has no libtorch"
if dotnet build "$root/src/MetaCluster.Core" -c Release -p:TorchBackend=external --artifacts-path "$work/external" >"$work/external.log" 2>&1 \
    && ! find "$work/external/bin" -name 'libtorch*.so*' | grep -q .; then
    echo "   PASS"
else
    echo "   FAIL (log: $work/external.log)"; failed=1
fi

echo "2. a project that brings the CPU libtorch into an external build is refused, naming the package"
cat >"$work/probe/Probe.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <ItemGroup>
    <PackageReference Include="libtorch-cpu-linux-x64" />
  </ItemGroup>
</Project>
XML
if dotnet build "$work/probe/Probe.csproj" -c Release -p:TorchBackend=external >"$work/probe.log" 2>&1; then
    echo "   FAIL: the build succeeded (log: $work/probe.log)"; failed=1
elif grep -q "TorchBackend=external, but the CPU-only libtorch would be copied into the output (libtorch-cpu-linux-x64 brings its libtorch_cpu.so)" "$work/probe.log"; then
    echo "   PASS: $(grep -m1 -o 'error : TorchBackend=external[^(]*' "$work/probe.log")…"
else
    echo "   FAIL: it failed for another reason (log: $work/probe.log)"; failed=1
fi
exit $failed
