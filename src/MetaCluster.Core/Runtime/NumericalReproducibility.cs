using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Makes libtorch's CPU math right and reproducible bit for bit on every x86-64 CPU with AVX2, with or without AVX-512.
/// libtorch computes with three libraries that each pick their kernels by the CPU; each is pinned to its AVX2 code path
/// through the variable it reads when it initialises, so an AVX2 and an AVX-512 machine run the same instructions:
/// <list type="bullet">
/// <item>Intel oneMKL (matrix products): its kernels also pick code paths by the memory alignment of their arguments, so
/// the same seed can give a different θ on every run, even inside one process. Conditional Numerical Reproducibility
/// "AVX2,STRICT" fixes the path, which also makes the MLP's bits the same for 1 and 2 torch threads.</item>
/// <item>oneDNN 3.7.1 (convolutions): its AVX-512 kernels for grouped convolutions over one input channel per group —
/// Conv4 task-batched on grey images — compute wrong gradients (measured here against float64: 40–1,000 % off at 4 to
/// 64 filters, with NaN where the allocator leaves NaN), so AVX-512 is not only a question of bits. Its AVX2 kernels
/// are right for every shape Conv4 builds (<c>ConvolutionKernelTests</c>). One defect remains on every ISA and
/// Conv4 avoids it by its layout: on a plain NCHW tensor whose channel count is not a multiple of the vector block (8
/// with AVX2) the backward pass reads padding it never zeroed; Conv4 convolves channels-last, which needs no padding.</item>
/// <item>ATen's own vectorised kernels (reductions, batch norm, pooling), dispatched by CPU capability.</item>
/// </list>
/// The variables are set, unless the user already set them, before any tensor work: from this assembly's module
/// initializer, which runs before any MetaCluster.Core code. A user's setting that lets oneDNN use AVX-512 on a CPU that
/// has it is refused at start (<see cref="TorchRuntime.EnsureLoaded"/>), rather than training on wrong gradients.
/// </summary>
public static class NumericalReproducibility
{
    public const string Variable = "MKL_CBWR";
    public const string Mode = "AVX2,STRICT";

    public const string OneDnnIsaVariable = "ONEDNN_MAX_CPU_ISA";
    public const string OneDnnIsa = "AVX2";

    public const string AtenCapabilityVariable = "ATEN_CPU_CAPABILITY";
    public const string AtenCapability = "avx2";

    /// <summary>The MKL_CBWR setting in force for this process.</summary>
    public static string? Current => NativeEnvironment.Get(Variable);

    /// <summary>The oneDNN ISA cap in force for this process (null: oneDNN's default, every ISA the CPU has).</summary>
    public static string? CurrentOneDnnIsa => NativeEnvironment.Get(OneDnnIsaVariable);

    [SuppressMessage("Usage", "CA2255", Justification = "MKL, oneDNN and ATen read their variables once, before the first tensor op: this is the only hook that runs early enough in every host (CLI, silo, tests).")]
    [ModuleInitializer]
    internal static void Apply()
    {
        NativeEnvironment.SetDefault(Variable, Mode);
        NativeEnvironment.SetDefault(OneDnnIsaVariable, OneDnnIsa);
        NativeEnvironment.SetDefault(AtenCapabilityVariable, AtenCapability);
    }

    /// <summary>Throws <see cref="TorchRuntimeException"/> if the oneDNN ISA setting in force lets known-bad kernels run here.</summary>
    internal static void CheckOneDnnIsa()
    {
        if (OneDnnIsaProblem(CurrentOneDnnIsa, Avx512F.IsSupported) is { } problem) throw new TorchRuntimeException(problem);
    }

    /// <summary>
    /// Null if oneDNN with ISA cap <paramref name="isa"/> keeps off its AVX-512 kernels on a CPU that
    /// <paramref name="cpuHasAvx512"/>; otherwise what is wrong and what to do. Unset means oneDNN's default: everything.
    /// </summary>
    public static string? OneDnnIsaProblem(string? isa, bool cpuHasAvx512)
    {
        if (!cpuHasAvx512) return null;
        string value = (isa ?? "").Trim().ToUpperInvariant();
        bool belowAvx512 = value is "SSE41" or "AVX" or "AVX2" or "AVX2_VNNI" or "AVX2_VNNI_2";
        if (belowAvx512) return null;
        string setting = isa is null ? $"{OneDnnIsaVariable} is unset" : $"{OneDnnIsaVariable}={isa}";
        return $"{setting}, which lets libtorch's oneDNN use its AVX-512 convolution kernels on this CPU, and those compute " +
               $"wrong gradients for task-batched Conv4 (grouped convolutions). Set {OneDnnIsaVariable}={OneDnnIsa} (MetaCluster's " +
               "default when you set nothing), or unset it in the environment you start MetaCluster from.";
    }
}
