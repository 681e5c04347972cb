using System.Runtime.InteropServices;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Keeps glibc from handing libtorch's big activation buffers back to the kernel after every use. By default glibc
/// serves allocations above a sliding threshold with fresh mmap()s and trims the heap's free top, so a Conv4 episode's
/// 15 MB activations came back as new, untouched pages every pass: measured on one thread, page faults were 16% of a
/// MAML round and a 15 MB ReLU took 6.8 ms instead of 1. With allocations up to 32 MB (glibc's ceiling) served from the
/// heap and freed memory kept for reuse, the round loses that cost. Set once, at start (<see cref="TorchRuntime.EnsureLoaded"/>);
/// a user's own MALLOC_* or GLIBC_TUNABLES malloc settings win.
/// </summary>
public static partial class MallocTuning
{
    /// <summary>Allocations up to this size come from the heap (glibc refuses more than 32 MB on 64-bit).</summary>
    public const int MmapThreshold = 32 << 20;

    /// <summary>
    /// Free memory at the heap's top is returned to the kernel only beyond this: enough for the next episode's buffers,
    /// not so much that a fragmented heap holds on to every peak (Omniglot FOMAML peak RSS 520 MB with 64 MB, 544–573
    /// MB with 1 GB, at the same speed).
    /// </summary>
    public const int TrimThreshold = 64 << 20;

    /// <summary>
    /// One malloc arena for the process. glibc gives other threads their own arenas, built of 64 MB heaps that are
    /// mapped and unmapped as they fill and empty: a worker slot computing on its own thread met fresh pages again
    /// (Omniglot FOMAML through one embedded worker slot, 2 threads: 19.6 episodes/s, 28.1 with one arena; in process 25.6).
    /// </summary>
    public const int Arenas = 1;

    private const int MTrimThreshold = -1, MMmapThreshold = -3, MArenaMax = -8;

    /// <summary>True when the settings took effect (Linux with glibc, and the user set none of their own).</summary>
    public static bool Applied { get; private set; }

    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || UserTuned()) return;
        try
        {
            Applied = MallOpt(MMmapThreshold, MmapThreshold) == 1 && MallOpt(MTrimThreshold, TrimThreshold) == 1
                && (NativeEnvironment.Get("MALLOC_ARENA_MAX") is not null || MallOpt(MArenaMax, Arenas) == 1);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to tune.
        }
    }

    private static bool UserTuned() =>
        NativeEnvironment.Get("MALLOC_MMAP_THRESHOLD_") is not null || NativeEnvironment.Get("MALLOC_TRIM_THRESHOLD_") is not null
        || (NativeEnvironment.Get("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
