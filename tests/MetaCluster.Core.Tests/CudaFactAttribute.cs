using MetaCluster.Core.Runtime;

namespace MetaCluster.Core.Tests;

/// <summary>
/// A fact that needs a CUDA GPU. Where none is usable it is reported as skipped, with the reason, rather than passing
/// silently: xunit 2 reads <see cref="FactAttribute.Skip"/> from the attribute instance, so setting it in the
/// constructor skips the test at discovery.
/// </summary>
public sealed class CudaFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Reason = new(TorchRuntime.CudaUnavailableReason);

    public CudaFactAttribute()
    {
        if (Reason.Value is { } reason) Skip = $"needs a CUDA GPU: {reason}";
    }
}

/// <summary>A fact about a build whose libtorch is CPU-only (no libtorch_cuda.so beside the tests); skipped, saying so, in a CUDA build.</summary>
public sealed class CpuOnlyBuildFactAttribute : FactAttribute
{
    public CpuOnlyBuildFactAttribute()
    {
        if (File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so")))
            Skip = "this build carries libtorch_cuda.so: the CPU-only behaviour does not apply";
    }
}
