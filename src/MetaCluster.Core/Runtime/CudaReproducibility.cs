using System.Runtime.InteropServices;
using TorchSharp;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// The settings that make libtorch's CUDA math repeatable run after run on one GPU model, driver and libtorch
/// (docs/gpu.md says what holds and what does not):
/// <list type="bullet">
/// <item><c>CUBLAS_WORKSPACE_CONFIG=:4096:8</c>: cuBLAS picks reduction splits by the workspace it is given; a fixed one
/// makes its matrix products deterministic. It is read when CUDA's first cuBLAS handle is made, so it is set before
/// CUDA initialises (<see cref="TorchRuntime.EnsureLoaded(ComputeDevice)"/>).</item>
/// <item>TF32 off for cuBLAS and cuDNN: on Ampere and later, TF32 rounds float32 inputs to 10 mantissa bits, which is
/// neither float32 arithmetic nor what the CPU computes.</item>
/// <item>cuDNN's deterministic mode: with it, cuDNN convolutions only use algorithms without atomic adds.
/// TorchSharp 0.107 has no working setter for it (its <c>use_deterministic_algorithms</c> throws when called), so it is
/// set on libtorch's global context directly, through its exported C++ symbols.</item>
/// </list>
/// cuDNN's benchmark mode stays off (libtorch's default): it times algorithms at run time and keeps the fastest, which
/// can differ between runs.
/// </summary>
public static partial class CudaReproducibility
{
    public const string CublasWorkspaceVariable = "CUBLAS_WORKSPACE_CONFIG";
    public const string CublasWorkspace = ":4096:8";

    /// <summary>Sets what must be in the environment before CUDA initialises (a user's own value wins).</summary>
    internal static void PrepareEnvironment() => NativeEnvironment.SetDefault(CublasWorkspaceVariable, CublasWorkspace);

    /// <summary>Applies the libtorch settings; CUDA must be initialised (they are global, not per device).</summary>
    internal static void Apply()
    {
        torch.backends.cuda.matmul.allow_tf32 = false;
        torch.backends.cudnn.allow_tf32 = false;
        DeterministicCuDnn = true;
    }

    /// <summary>
    /// libtorch's <c>at::globalContext().deterministicCuDNN()</c>. A host-side flag: it can be read and set without a
    /// GPU, which is how the tests check that the binding reaches libtorch.
    /// </summary>
    public static bool DeterministicCuDnn
    {
        get => GetDeterministicCuDnn(GlobalContext()) != 0;
        set => SetDeterministicCuDnn(GlobalContext(), value ? (byte)1 : (byte)0);
    }

    // at::Context's members are plain functions taking `this` first in the Itanium C++ ABI (Linux x86-64); C++ bool
    // is one byte. The symbols are exported by libtorch_cpu.so, which every libtorch build (CPU or CUDA) contains.
    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport("torch_cpu", EntryPoint = "_ZNK2at7Context18deterministicCuDNNEv")]
    private static partial byte GetDeterministicCuDnn(IntPtr context);

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at7Context21setDeterministicCuDNNEb")]
    private static partial void SetDeterministicCuDnn(IntPtr context, byte value);
}
