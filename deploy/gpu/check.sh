#!/usr/bin/env bash
# MetaCluster's GPU check: MetaCluster and the plain-PyTorch peer, side by side on one NVIDIA GPU, as ONE JSON line.
#
#   deploy/gpu/check.sh prepare [KIT]        here, with the network (NuGet) and the sources: pack everything into KIT
#                                            (default artifacts/gpu-kit; ≈ 40 MiB)
#   KIT/check.sh run [--dry-run]             on the GPU machine (no network): locate torch, bind or rebuild TorchSharp's
#                                            native shim against it, run both benches on cuda, print the JSON line
#   KIT/check.sh symbols SHIM LIBDIR         the symbol comparison alone: which of the shim's needs LIBDIR lacks
#
# Settings (environment): DEVICE (run: cuda; --dry-run: cpu), PYTHON (python3), LIBTORCH_LIB / LIBTORCH_CMAKE (a
# libtorch's lib/ and share/cmake/Torch, instead of the Python torch's), FALLBACK_LIBTORCH_LIB (a libtorch the prebuilt
# shim binds to, tried when the shim cannot be rebuilt), BUDGET_S (whole run, default 480), SHIM_BUILD_TIMEOUT (300),
# SHIM_GENERATOR (the shim's CMake generator: "Unix Makefiles" where make is, else Ninja), TORCHSHARP_GIT (prepare: a
# git directory holding TorchSharp, e.g. a mirror; default: clone github.com/dotnet/TorchSharp at v$TORCHSHARP_VERSION).
# deploy/gpu/README.md has the details.
set -euo pipefail

TORCHSHARP_VERSION=0.107.0
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "check.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

# ------------------------------------------------------------------------------------------------------------ symbols
# The shim's undefined, unversioned dynamic symbols (libtorch's and c10's C++ API: glibc/libstdc++ ones carry a
# version) that no library in LIBDIR defines. Prints the count, then up to 10 of them (demangled).
missing_symbols() {
    local shim=$1 libdir=$2 needs defined
    needs=$(mktemp) defined=$(mktemp)
    nm -D --undefined-only "$shim" | awk '$1 == "U" && $2 !~ /@/ { print $2 }' | sort -u > "$needs"
    local libs=() lib
    # Symlinks resolved (a distribution's torch/lib links to /usr/lib), each library once.
    while IFS= read -r lib; do libs+=("$lib"); done < <(for l in "$libdir"/libtorch*.so* "$libdir"/libc10*.so*; do
        [[ -e $l ]] && readlink -f "$l"; done | sort -u)
    [[ ${#libs[@]} -gt 0 ]] || { rm -f "$needs" "$defined"; echo "-1"; echo "no libtorch*.so or libc10*.so in $libdir"; return; }
    nm -D --defined-only "${libs[@]}" 2>/dev/null | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u > "$defined"
    local missing
    missing=$(comm -23 "$needs" "$defined")
    rm -f "$needs" "$defined"
    if [[ -z $missing ]]; then echo 0; return; fi
    echo "$missing" | wc -l
    echo "$missing" | head -10 | c++filt
}

cmd_symbols() {
    [[ $# -eq 2 ]] || die "usage: check.sh symbols SHIM LIBDIR"
    local result count
    result=$(missing_symbols "$1" "$2")
    count=$(head -1 <<<"$result")
    if [[ $count == 0 ]]; then
        echo "$(basename "$1") binds to $2: every libtorch/c10 symbol it needs is defined there."
    elif [[ $count == -1 ]]; then
        echo "$(tail -n +2 <<<"$result")"; return 1
    else
        echo "$(basename "$1") does NOT bind to $2: $count symbol(s) it needs are missing there, e.g.:"
        tail -n +2 <<<"$result" | sed 's/^/  /'
        return 1
    fi
}

# ------------------------------------------------------------------------------------------------------------ prepare
cmd_prepare() {
    local repo kit
    repo=$(cd "$HERE/../.." && pwd)
    kit=$(realpath -m "${1:-$repo/artifacts/gpu-kit}")
    local peers=${PEER_DIR:-/work/shared/bench-peer} omniglot=${OMNIGLOT_DIR:-/work/shared/data/omniglot}
    [[ -f $peers/maml_sine.py && -f $peers/maml_omniglot.py ]] || die "the peer scripts are not in $peers: set PEER_DIR."
    rm -rf "$kit" && mkdir -p "$kit/peer" "$kit/omniglot"
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

    say "publishing metacluster self-contained, without libtorch (TorchBackend=external)…"
    # Its own artifacts path, so the repository's CPU build (bin/, obj/) is left as it is.
    dotnet publish "$repo/src/MetaCluster.Cli" -c Release -r linux-x64 --self-contained true -p:TorchBackend=external \
        -p:SatelliteResourceLanguages=en --artifacts-path "$work/build" -o "$work/app" >"$work/publish.log" 2>&1 \
        || { tail -20 "$work/publish.log" >&2; die "dotnet publish failed (log above)."; }
    rm -f "$work"/app/*.pdb
    if compgen -G "$work/app/libtorch*.so*" >/dev/null; then die "the publish carries a libtorch: TorchBackend=external must not."; fi
    # What the check never loads, so that the kit travels light (≈ 40 MiB; a GPU machine's transfer may be capped): the
    # charts' native Skia and HarfBuzz (ScottPlot; bench and the runtime start without them) and the debugger's and
    # crash dumps' native parts of the runtime.
    rm -f "$work"/app/{libSkiaSharp.so,libHarfBuzzSharp.so,libmscordaccore.so,libmscordbi.so,createdump}
    say "packing the application (xz)…"
    tar -C "$work" -cf - app | xz -9 -T0 > "$kit/app.tar.xz"

    say "TorchSharp's native shim sources (src/Native) at v$TORCHSHARP_VERSION…"
    local git_dir=${TORCHSHARP_GIT:-} rev
    if [[ -z $git_dir ]]; then
        git clone --quiet --depth 1 --branch "v$TORCHSHARP_VERSION" https://github.com/dotnet/TorchSharp "$work/TorchSharp"
        git_dir=$work/TorchSharp/.git
    fi
    rev=$(torchsharp_revision "$git_dir")
    git --git-dir "$git_dir" archive --format=tar.gz -o "$kit/torchsharp-native.tar.gz" "$rev" src/Native
    echo "$rev" > "$kit/torchsharp-native.commit"

    cp "$peers"/maml_sine.py "$peers"/maml_omniglot.py "$peers"/cpumeter.py "$HERE/peer_device.py" "$kit/peer/"
    say "a small Omniglot (the first alphabets of each official zip)…"
    "${PYTHON:-python3}" "$HERE/omniglot_subset.py" "$omniglot" "$kit/omniglot" 3
    cp "$HERE/check.sh" "$HERE/report.py" "$HERE/README.md" "$kit/"
    printf '{"torchsharp": "%s", "torchsharp_native_commit": "%s", "libtorch_expected": "2.10", "prepared_utc": "%s"}\n' \
        "$TORCHSHARP_VERSION" "$rev" "$(date -u +%FT%TZ)" > "$kit/kit.json"
    say "kit ready: $kit ($(du -sh "$kit" | cut -f1)); on the GPU machine: $kit/check.sh run"
}

# The commit of TorchSharp v$TORCHSHARP_VERSION in a git directory: its tag, or (a mirror without the tag) the commit
# that set the version in build/BranchInfo.props, checked against that file.
torchsharp_revision() {
    local git_dir=$1 minor=${TORCHSHARP_VERSION#0.} rev
    minor=${minor%%.*}
    if rev=$(git --git-dir "$git_dir" rev-parse --verify --quiet "v$TORCHSHARP_VERSION^{commit}"); then echo "$rev"; return; fi
    rev=$(git --git-dir "$git_dir" log -1 --format=%H -S"<MinorVersion>$minor</MinorVersion>" HEAD -- build/BranchInfo.props)
    [[ -n $rev ]] || die "no tag v$TORCHSHARP_VERSION and no commit setting version $TORCHSHARP_VERSION in $git_dir"
    # The last commit before the version moved on (the release's own state): the newest with this minor version.
    local newest; newest=$(git --git-dir "$git_dir" log -1 --format=%H HEAD)
    if git --git-dir "$git_dir" show "$newest:build/BranchInfo.props" | grep -q "<MinorVersion>$minor</MinorVersion>"; then rev=$newest; fi
    git --git-dir "$git_dir" show "$rev:build/BranchInfo.props" | grep -q "<MinorVersion>$minor</MinorVersion>" \
        || die "$rev of $git_dir is not TorchSharp $TORCHSHARP_VERSION"
    say "no tag v$TORCHSHARP_VERSION in $git_dir: using $rev, whose build/BranchInfo.props says $TORCHSHARP_VERSION"
    echo "$rev"
}

# ------------------------------------------------------------------------------------------------------------ run
cmd_run() {
    local kit=$HERE dry=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dry-run) dry=1 ;;
            --kit) kit=$(realpath "$2"); shift ;;
            *) die "unknown option $1 (run takes --dry-run and --kit DIR)" ;;
        esac
        shift
    done
    local device=${DEVICE:-$([[ $dry == 1 ]] && echo cpu || echo cuda)}
    local python=${PYTHON:-python3} budget=${BUDGET_S:-480} started=$SECONDS
    [[ -f $kit/app.tar.xz ]] || die "$kit is not a kit (no app.tar.xz): run 'check.sh prepare' where the network is."
    remaining() { echo $((budget - (SECONDS - started))); }
    # Global (not local): the EXIT trap runs after cmd_run has returned.
    run_dir=$(mktemp -d "${TMPDIR:-/tmp}/metacluster-gpu.XXXXXX")
    trap 'rm -rf "$run_dir"' EXIT
    declare -A out=([device]=$device [dry_run]=$([[ $dry == 1 ]] && echo true || echo false) [shim]=prebuilt [shim_rebuilt]=false)
    local notes=()

    # 1. torch: a libtorch given, or the Python torch's lib/ and include/.
    local torch_lib=${LIBTORCH_LIB:-} torch_cmake=${LIBTORCH_CMAKE:-} torch_version="" python_torch=0 abi=1
    local info
    if info=$("$python" - 2>"$run_dir/python.err" <<'EOF'
import os, torch
root = os.path.dirname(torch.__file__)
cuda = torch.cuda.is_available()
print(root); print(torch.__version__); print(int(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)))
print(torch.cuda.get_device_name(0) if cuda else ""); print(torch.version.cuda or "")
print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))
EOF
    ); then
        python_torch=1
        local root; root=$(sed -n 1p <<<"$info")
        torch_version=$(sed -n 2p <<<"$info"); abi=$(sed -n 3p <<<"$info")
        out[gpu_name]=$(sed -n 4p <<<"$info"); out[cuda_runtime]=$(sed -n 5p <<<"$info"); torch_cmake=$(sed -n 6p <<<"$info")
        torch_lib=${torch_lib:-$root/lib}
        say "torch $torch_version at $root (lib: $torch_lib)"
    else
        notes+=("'$python -c import torch' failed: $(tail -1 "$run_dir/python.err"); the peers cannot run. Install PyTorch for $python, or set PYTHON to an interpreter that has it.")
        say "${notes[-1]}"
        [[ -n $torch_lib ]] || die "no torch: $(tail -1 "$run_dir/python.err"). Set PYTHON to an interpreter with PyTorch, or LIBTORCH_LIB to a libtorch lib/ directory."
    fi
    out[torch]=$torch_version
    if [[ $device == cuda* && -z ${out[gpu_name]:-} ]] && command -v nvidia-smi >/dev/null; then
        out[gpu_name]=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
    fi

    # 2. the shim: the prebuilt one if torch defines every symbol it needs; otherwise rebuilt against that torch.
    mkdir -p "$run_dir/app-root"
    # (A PyTorch image may lack the xz tool; Python's lzma reads the same archive, file modes included.)
    if command -v xz >/dev/null; then xz -dc "$kit/app.tar.xz" | tar -C "$run_dir/app-root" -xf -
    else report_python "$python" -c 'import sys, tarfile
kw = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], **kw)' "$kit/app.tar.xz" "$run_dir/app-root"; fi
    # The prebuilt shim, kept aside: a rebuilt one takes its place in the application.
    local app=$run_dir/app-root/app shim=$run_dir/prebuilt/libLibTorchSharp.so result count
    mkdir -p "$run_dir/prebuilt" && cp "$app/libLibTorchSharp.so" "$shim"
    result=$(missing_symbols "$shim" "$torch_lib"); count=$(head -1 <<<"$result")
    out[shim_missing_symbols]=$count
    if [[ $count != 0 ]]; then
        say "the prebuilt shim (built for libtorch 2.10) does not bind to $torch_lib: $count missing symbol(s), e.g. $(sed -n 2p <<<"$result")"
        if rebuild_shim "$kit" "$run_dir" "$torch_lib" "$torch_cmake" "$abi" "$torch_version"; then
            cp "$run_dir/shim-build/LibTorchSharp/libLibTorchSharp.so" "$app/"
            out[shim]=rebuilt; out[shim_rebuilt]=true
            if [[ $shim_built == partial ]]; then
                out[shim]=rebuilt-partial
                notes+=("the shim was rebuilt against torch ${torch_version:-at $torch_lib} without the sources that do not compile against it ($shim_left_out): their functions fail if called")
            fi
        elif [[ $device == cuda* ]] && loads_lazily "$python" "$shim" "$torch_lib"; then
            # The last way onto this GPU: the prebuilt shim still loads (functions bind at their first call), so it runs
            # unless a missing function is called — then the bench fails with "undefined symbol", named in the line.
            notes+=("the shim could not be rebuilt against torch ${torch_version:-at $torch_lib}; MetaCluster runs on the prebuilt shim (libtorch 2.10) with $count of its symbols unresolved: a bench that calls one fails, naming it")
            say "${notes[-1]}"
            out[shim]=prebuilt-unresolved
        elif [[ -n ${FALLBACK_LIBTORCH_LIB:-} ]] && [[ $(missing_symbols "$shim" "$FALLBACK_LIBTORCH_LIB" | head -1) == 0 ]]; then
            notes+=("the shim could not be rebuilt against torch ${torch_version:-at $torch_lib} (TorchSharp $TORCHSHARP_VERSION's shim is written for libtorch 2.10; other versions' APIs differ): MetaCluster runs on the prebuilt shim with $FALLBACK_LIBTORCH_LIB, where it binds")
            say "${notes[-1]}"
            torch_lib=$FALLBACK_LIBTORCH_LIB; out[shim]=prebuilt-fallback
        else
            die "the shim could not be rebuilt against torch ${torch_version:-at $torch_lib} (see above) and the prebuilt one does not bind to it. TorchSharp $TORCHSHARP_VERSION is written for libtorch 2.10: install torch 2.10 (pip install torch==2.10.*), or set FALLBACK_LIBTORCH_LIB to a libtorch 2.10 lib/."
        fi
    fi

    # 3. MetaCluster on the device, with that libtorch.
    export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
    local sine_iters omni_iters omni_batch
    if [[ $device == cpu ]]; then sine_iters=${SINE_ITERATIONS:-100} omni_iters=${OMNIGLOT_ITERATIONS:-2} omni_batch=${OMNIGLOT_META_BATCH:-4}
    else sine_iters=${SINE_ITERATIONS:-1000} omni_iters=${OMNIGLOT_ITERATIONS:-10} omni_batch=${OMNIGLOT_META_BATCH:-32}; fi
    local omni_args=(--ways 5 --shots 1 --meta-batch "$omni_batch" --iterations "$omni_iters")
    bench "mc_sine" "$(remaining)" "$app/metacluster" bench --device "$device" --dataset sinusoid --algorithm maml \
        --iterations "$sine_iters" --eval-tasks 0
    bench "mc_omniglot" "$(remaining)" "$app/metacluster" bench --device "$device" --dataset omniglot --algorithm maml \
        --data "$kit/omniglot" --split lake --no-rotate --queries 15 "${omni_args[@]}"
    # 4. The peer, same settings, same device (peer_device.py moves its data and parameters there).
    if [[ $python_torch == 1 ]]; then
        bench "peer_sine" "$(remaining)" "$python" "$kit/peer/peer_device.py" "$device" "$kit/peer/maml_sine.py" \
            --algo maml --mode batched --iterations "$sine_iters" --eval-tasks 0
        bench "peer_omniglot" "$(remaining)" "$python" "$kit/peer/peer_device.py" "$device" "$kit/peer/maml_omniglot.py" \
            --algo maml --data "$kit/omniglot" --query 15 "${omni_args[@]}"
    fi

    out[seconds]=$((SECONDS - started))
    local -a pairs=()
    for key in "${!out[@]}"; do pairs+=("$key=${out[$key]}"); done
    printf '%s\n' "${notes[@]+"${notes[@]}"}" > "$run_dir/notes.txt"
    report_python "$python" "$kit/report.py" "$run_dir" "${pairs[@]}"
}

# Whether the shim loads with LIBDIR's libraries although some of its symbols are missing there: functions are bound at
# their first call, but data (vtables, type information) must all be found at load time.
loads_lazily() {
    local python=$1 shim=$2 libdir=$3
    "$python" -c 'pass' 2>/dev/null || return 1
    LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$python" -c \
        'import ctypes, os, sys; ctypes.CDLL(sys.argv[1], mode=os.RTLD_LAZY)' "$shim" 2>/dev/null
}

# Runs one bench under a timeout (the smaller of the budget left and 240 s); its last stdout line (the JSON) goes to
# RUN_DIR/NAME.json, or its error to RUN_DIR/NAME.error.
bench() {
    local name=$1 left=$2; shift 2
    local limit=$((left < 240 ? left : 240))
    if ((limit < 10)); then echo "skipped: the time budget (BUDGET_S) ran out" > "$run_dir/$name.error"; say "$name: skipped (no time left)"; return; fi
    say "$name: $* (at most ${limit}s)"
    local code=0
    timeout --kill-after=10 "$limit" "$@" > "$run_dir/$name.out" 2> "$run_dir/$name.err" || code=$?
    if [[ $code == 0 ]] && tail -1 "$run_dir/$name.out" | grep -q '^{'; then
        tail -1 "$run_dir/$name.out" > "$run_dir/$name.json"
    elif [[ $code == 124 || $code == 137 ]]; then
        echo "timed out after ${limit}s" > "$run_dir/$name.error"; say "$name: timed out"
    else
        { echo "exit $code: $(grep -v '^\s*$' "$run_dir/$name.err" | tail -3 | tr '\n' ' ')"; } > "$run_dir/$name.error"
        say "$name failed: $(cat "$run_dir/$name.error")"
    fi
}

# Builds TorchSharp's src/Native against the torch found, with TorchSharp's own CMake files (their -Werror dropped: a
# newer compiler's new warnings are not errors in someone else's code). The ABI define and the C++ standard follow that
# torch's. Make, or Ninja where make is missing (a PyTorch image often has pip's cmake and ninja but no make). Where
# CMake is missing or cannot configure (a CUDA torch's CMake files look for the CUDA toolkit, cuDNN, NVTX…), the
# sources are compiled with g++ directly against torch's headers: the shim itself uses no CUDA API. A build in which
# some sources do not compile (another torch's API) keeps going, and the shim is linked from the ones that did: .NET
# binds each native function at its first call, so a function of a source left out fails only if it is called
# (MetaCluster's benches use tensors, modules and autograd, not TorchScript or export). Sets shim_built: full or partial.
rebuild_shim() {
    local kit=$1 run_dir=$2 lib=$3 cmake_hint=$4 abi=$5 version=$6
    shim_built=""
    command -v g++ >/dev/null || { say "cannot rebuild the shim: g++ is not installed"; return 1; }
    # TorchConfig.cmake (it names the headers and libraries): where torch says, beside a libtorch's lib/, or beside
    # the real library (a distribution's package). The headers: beside lib/, or where the CMake files point.
    local cmake_dir="" candidate real include=""
    real=$(dirname "$(readlink -f "$lib/libtorch_cpu.so" 2>/dev/null || echo "$lib/x")")
    for candidate in "$cmake_hint" "$(dirname "$lib")/share/cmake/Torch" "$real/cmake/Torch"; do
        [[ -n $candidate && -f $candidate/TorchConfig.cmake ]] && { cmake_dir=$candidate; break; }
    done
    for candidate in "$(dirname "$lib")/include" ${cmake_dir:+"$cmake_dir/../../../include"}; do
        [[ -f $candidate/torch/csrc/api/include/torch/torch.h ]] && { include=$(cd "$candidate" && pwd); break; }
    done
    local generator=${SHIM_GENERATOR:-} keep_going=()
    if [[ -z $generator ]]; then
        if command -v make >/dev/null; then generator="Unix Makefiles"; elif command -v ninja >/dev/null; then generator=Ninja; fi
    fi
    case $generator in Ninja) keep_going=(-k 0) ;; "Unix Makefiles") keep_going=(-k) ;; esac
    # The standard torch's headers demand (they stop with an #error below it); TorchSharp's CMake files say C++17.
    local std=17
    # ("C++20 or later compatible compiler is required to use ATen": torch 2.13 on, by other projects' reports.)
    [[ -n $include ]] && grep -rqsF 'C++20 or later compatible compiler is required' "$include/c10" "$include/ATen" "$include/torch" && std=20
    say "rebuilding the shim (TorchSharp $TORCHSHARP_VERSION src/Native, commit $(cat "$kit/torchsharp-native.commit")) against torch ${version:-at $lib} (C++$std)…"
    [[ -z $version || $version == 2.10.* ]] || say "torch $version is not the 2.10 TorchSharp $TORCHSHARP_VERSION is written for: some sources may not compile; the shim is then linked from those that do."
    mkdir -p "$run_dir/shim-src"
    tar -C "$run_dir/shim-src" -xzf "$kit/torchsharp-native.tar.gz"
    local src=$run_dir/shim-src/src/Native
    sed -i -e 's/add_definitions(-Werror)/# -Werror dropped by check.sh/' \
           -e "s/-D_GLIBCXX_USE_CXX11_ABI=1/-D_GLIBCXX_USE_CXX11_ABI=$abi/" "$src/CMakeLists.txt"
    sed -i -e "s/CXX_STANDARD 1[47]/CXX_STANDARD $std/" -e "s/-std=c++17/-std=c++$std/" "$src/LibTorchSharp/CMakeLists.txt"
    # The build may take what the benches do not need (about 150 s of the budget), at most SHIM_BUILD_TIMEOUT.
    local jobs limit code=0 log=${TMPDIR:-/tmp}/metacluster-shim-build.log build=$run_dir/shim-build
    jobs=$(nproc); limit=$(( $(remaining) - 150 )); limit=$(( limit < ${SHIM_BUILD_TIMEOUT:-300} ? limit : ${SHIM_BUILD_TIMEOUT:-300} ))
    ((limit >= 30)) || { say "cannot rebuild the shim: no time left in the budget (BUDGET_S)"; return 1; }
    # Why CMake is not used (empty: it configured).
    local without_cmake="no cmake, TorchConfig.cmake or make/ninja"
    if command -v cmake >/dev/null && [[ -n $cmake_dir && -n $generator ]]; then
        if cmake -S "$src" -B "$build" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DLIBTORCH_PATH="$cmake_dir" -DCMAKE_PREFIX_PATH="$cmake_dir" \
            > "$run_dir/shim-build.log" 2>&1; then without_cmake=""
        else without_cmake="cmake could not configure the build ($(grep -m1 -i 'error' "$run_dir/shim-build.log" | cut -c1-160))"; fi
    fi
    if [[ -z $without_cmake ]]; then
        say "building with CMake ($generator) on $jobs core(s)…"
        timeout "$limit" cmake --build "$build" --target LibTorchSharp -j "$jobs" -- "${keep_going[@]}" >> "$run_dir/shim-build.log" 2>&1 || code=$?
    else
        [[ -n $include ]] || { say "cannot rebuild the shim: no torch headers (include/torch/csrc/api/include/torch/torch.h) beside $lib"; return 1; }
        say "$without_cmake; compiling with g++ directly on $jobs core(s)…"
        compile_direct "$src/LibTorchSharp" "$build/direct/LibTorchSharp.dir" "$include" "$std" "$abi" "$jobs" "$limit" >> "$run_dir/shim-build.log" 2>&1 || code=$?
        [[ $code == 124 ]] || code=1 # the objects decide below
    fi
    # Kept past the run (its folder is removed on exit) for whoever reads the error.
    [[ $code == 0 ]] || cp "$run_dir/shim-build.log" "$log"
    if [[ $code == 124 ]]; then
        say "the shim did not finish building within ${limit}s on $jobs core(s) (SHIM_BUILD_TIMEOUT; log: $log)."
        return 1
    fi
    local rebuilt=$build/LibTorchSharp/libLibTorchSharp.so left
    if [[ $code != 0 ]]; then
        grep -m3 -E 'error' "$run_dir/shim-build.log" | cut -c1-300 | sed 's/^/  /' >&2 || true
        mkdir -p "$(dirname "$rebuilt")"
        link_partial_shim "$src/LibTorchSharp" "$build" "$lib" "$rebuilt" || return 1
    else
        shim_built=full
    fi
    left=$(missing_symbols "$rebuilt" "$lib" | head -1)
    [[ $left == 0 ]] || { say "the rebuilt shim still misses $left symbol(s) of $lib"; return 1; }
    say "shim rebuilt against torch ${version:-at $lib} ($shim_built); it binds."
}

# Compiles the shim's sources with g++ alone, JOBS at a time, each to OUT/NAME.o (what CMake would), under LIMIT
# seconds; a source that does not compile is left without an object. Exits 124 if the time ran out.
compile_direct() {
    local sources=$1 out=$2 include=$3 std=$4 abi=$5 jobs=$6 limit=$7
    mkdir -p "$out"
    # (The kit unpacks under a mktemp folder: no spaces in these paths.)
    local flags="-O2 -fPIC -DNDEBUG -w -D_GLIBCXX_USE_CXX11_ABI=$abi -I$sources -I$sources/.. -I$include -I$include/torch/csrc/api/include"
    ls "$sources"/*.cpp "$sources"/*.c 2>/dev/null | OUT=$out STD=$std FLAGS=$flags timeout "$limit" xargs -P "$jobs" -n 1 sh -c '
        f=$1; o="$OUT/$(basename "$f").o"
        case $f in *.c) lang="-x c"; std="" ;; *) lang="-x c++"; std="-std=c++$STD" ;; esac
        g++ $lang $std $FLAGS -c "$f" -o "$o" || { rm -f "$o"; echo "error: $(basename "$f") did not compile"; }
    ' sh
}

# Links the shim from the objects a build made (all, or those that compiled). Says which sources are left out; sets
# shim_left_out and shim_built (full when none is).
link_partial_shim() {
    local sources=$1 build=$2 lib=$3 out=$4 objects=() name missing=()
    while IFS= read -r name; do objects+=("$name"); done < <(find "$build" -path '*LibTorchSharp.dir*' -name '*.o' | sort)
    for name in "$sources"/*.cpp "$sources"/*.c; do
        [[ -e $name ]] || continue
        [[ -n $(find "$build" -path '*LibTorchSharp.dir*' -name "$(basename "$name").o" -print -quit) ]] || missing+=("$(basename "$name")")
    done
    # Without these nothing runs: TorchSharp's start-up, tensors and autograd.grad.
    local essential
    for essential in THSTorch.cpp THSTensor.cpp THSAutograd.cpp; do
        if [[ " ${missing[*]} " == *" $essential "* ]]; then
            say "the shim did not build against this torch: ${#missing[@]} of its sources do not compile (${missing[*]}), $essential among them, which every run needs (log: ${TMPDIR:-/tmp}/metacluster-shim-build.log)."
            return 1
        fi
    done
    shim_left_out="${missing[*]}"
    if ((${#missing[@]} == 0)); then
        shim_built=full; say "linking the shim from its ${#objects[@]} objects…"
    else
        shim_built=partial; say "${#missing[@]} source(s) of the shim do not compile against this torch (${shim_left_out}); linking it from the other ${#objects[@]}…"
    fi
    local cuda=()
    [[ -e $lib/libtorch_cuda.so ]] && cuda=(-ltorch_cuda -lc10_cuda)
    g++ -shared -o "$out" "${objects[@]}" -L"$lib" -Wl,-rpath,'$ORIGIN' -ltorch -ltorch_cpu -lc10 "${cuda[@]}" >> "$build/../shim-build.log" 2>&1 \
        || { say "linking the shim from the sources that compiled failed (log: ${TMPDIR:-/tmp}/metacluster-shim-build.log)"; cp "$build/../shim-build.log" "${TMPDIR:-/tmp}/metacluster-shim-build.log"; return 1; }
}

# The JSON line, written by the Python that has torch, or any python3.
report_python() {
    local python=$1; shift
    if "$python" -c 'pass' 2>/dev/null; then "$python" "$@"; else python3 "$@"; fi
}

case "${1:-run}" in
    prepare) shift; cmd_prepare "$@" ;;
    run) shift || true; cmd_run "$@" ;;
    symbols) shift; cmd_symbols "$@" ;;
    -h|--help|help) sed -n '2,16p' "${BASH_SOURCE[0]}" ;;
    *) die "unknown command '$1': use prepare, run or symbols (check.sh --help)" ;;
esac
