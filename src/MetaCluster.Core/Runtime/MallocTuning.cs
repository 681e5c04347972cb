using System.Runtime.InteropServices;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Keeps glibc from handing libtorch's big activation buffers back to the kernel after every use. By default glibc
/// serves allocations above a sliding threshold with fresh mmap()s and trims the heap's free top, so a Conv4 episode's
/// 15 MB activations would come back as new, untouched pages every pass, and the page faults cost a sizeable share of
/// a MAML round (docs/benchmarks.md). With allocations up to 32 MB (glibc's ceiling) served from the heap and freed
/// memory kept for reuse, the round does not pay that cost. Set once, at start
/// (<see cref="TorchRuntime.EnsureLoaded"/>); a user's own MALLOC_* or GLIBC_TUNABLES malloc settings win.
/// </summary>
public static partial class MallocTuning
{
    /// <summary>Allocations up to this size come from the heap (glibc refuses more than 32 MB on 64-bit).</summary>
    public const int MmapThreshold = 32 << 20;

    /// <summary>
    /// No mmap()ed chunks at all: above <see cref="MmapThreshold"/>'s 32 MB ceiling glibc would still map every buffer
    /// afresh, and a 60-way ProtoNet episode's activations (72 MB a conv layer) were page-faulted in every episode —
    /// 43 % of its CPU (`bench --algorithm protonet --ways 60 --queries 5 --meta-batch 1`: 19.9 → 11.4 CPU s for 12
    /// episodes, 666 k → 221 k faults). Every allocation then comes from the heap and is kept for reuse under
    /// <see cref="TrimThreshold"/>.
    /// </summary>
    public const int MmapMax = 0;

    /// <summary>
    /// Free memory at the heap's top is returned to the kernel only beyond this: enough for the next episode's buffers.
    /// 64 MB was too little for an 80-image Conv4 batch (ProtoNet, matching nets, MetaNet: the saved activations pass
    /// 64 MB, and an episode's buffers were given back and page-faulted again every episode — 2.5× the CPU time); 512 MB
    /// was too little for Snell et al.'s 60-way ProtoNet episodes (360 images: `train --algorithm protonet --ways 60
    /// --queries 5 --meta-batch 1 --iterations 10` through a worker slot, 25.6 → 12.1 CPU s and 1.0 M → 0.24 M page
    /// faults with 4 GB, peak RSS 1.1 GB). glibc takes an int here: the largest, 2 GB, which no episode of ours reaches.
    /// </summary>
    public const int TrimThreshold = int.MaxValue;

    /// <summary>
    /// One malloc arena for the process. glibc gives other threads their own arenas, built of 64 MB heaps that are
    /// mapped and unmapped as they fill and empty, so a worker slot computing on its own thread would meet fresh pages
    /// again and run slower than the in-process trainer (docs/benchmarks.md).
    /// </summary>
    public const int Arenas = 1;

    private const int MTrimThreshold = -1, MMmapThreshold = -3, MMmapMax = -4, MArenaMax = -8;

    /// <summary>True when the settings took effect (Linux with glibc, and the user set none of their own).</summary>
    public static bool Applied { get; private set; }

    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || UserTuned()) return;
        try
        {
            Applied = MallOpt(MMmapThreshold, MmapThreshold) == 1 && MallOpt(MTrimThreshold, TrimThreshold) == 1 && MallOpt(MMmapMax, MmapMax) == 1
                && (NativeEnvironment.Get("MALLOC_ARENA_MAX") is not null || MallOpt(MArenaMax, Arenas) == 1);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to tune.
        }
    }

    private static bool UserTuned() =>
        NativeEnvironment.Get("MALLOC_MMAP_THRESHOLD_") is not null || NativeEnvironment.Get("MALLOC_TRIM_THRESHOLD_") is not null
        || NativeEnvironment.Get("MALLOC_MMAP_MAX_") is not null
        || (NativeEnvironment.Get("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
