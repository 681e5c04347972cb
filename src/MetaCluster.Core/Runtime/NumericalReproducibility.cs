using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Makes libtorch's CPU math reproducible bit for bit. libtorch's x86 build carries Intel oneMKL, whose kernels pick
/// code paths by the memory alignment of their arguments, so the same seed can give a different θ on every run, even
/// inside one process. MKL's Conditional Numerical Reproducibility mode "AVX2,STRICT" fixes the code path, which also
/// makes the MLP's bits the same for 1 and 2 torch threads. MKL reads MKL_CBWR from the native environment when it
/// initialises, so we set it (unless the user already has) before any tensor work: from this assembly's module
/// initializer, which runs before any MetaCluster.Core code.
/// </summary>
public static class NumericalReproducibility
{
    public const string Variable = "MKL_CBWR";
    public const string Mode = "AVX2,STRICT";

    /// <summary>The MKL_CBWR setting in force for this process.</summary>
    public static string? Current => NativeEnvironment.Get(Variable);

    [SuppressMessage("Usage", "CA2255", Justification = "MKL reads MKL_CBWR once, before the first tensor op: this is the only hook that runs early enough in every host (CLI, silo, tests).")]
    [ModuleInitializer]
    internal static void Apply() => NativeEnvironment.SetDefault(Variable, Mode);
}
