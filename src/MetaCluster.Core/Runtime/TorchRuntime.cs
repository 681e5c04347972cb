using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TorchSharp;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Loads libtorch up front and, when that fails, says why. TorchSharp reports any failure to load its native
/// library as "doesn't contain a reference to libtorch-cpu-linux-x64", whatever the cause; the usual cause on
/// older Linux systems is the dynamic loader refusing libLibTorchSharp.so because the system libstdc++ lacks a
/// symbol version it was linked against (GLIBCXX_3.4.32). We load the library ourselves to get the loader's
/// own message and turn it into advice.
/// It also refuses native settings that would let known-bad kernels compute (<see cref="NumericalReproducibility"/>,
/// which sets MKL, oneDNN and ATen to reproducible, right code paths); every model that convolves calls it first.
/// </summary>
public static partial class TorchRuntime
{
    public const string NativeLibraryFile = "libLibTorchSharp.so";

    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>
    /// Makes sure libtorch is loaded, usable and set to compute right; throws <see cref="TorchRuntimeException"/> naming
    /// the real cause if not.
    /// </summary>
    /// <remarks>
    /// The library next to the program is probed first: when it cannot load, TorchSharp would otherwise print a long
    /// trace on stdout and copy the whole libtorch package into a "cpu" folder beside the program before failing.
    /// </remarks>
    public static void EnsureLoaded() => EnsureLoaded(ComputeDevice.Cpu);

    /// <summary>
    /// The same, and for a CUDA device also CUDA: initialised before any other tensor work (TorchSharp loads
    /// libtorch_cuda only when asked for CUDA first; a process that started on the CPU backend alone cannot use a GPU),
    /// with <see cref="CudaReproducibility"/>'s settings. No usable GPU is an error naming the cause, not a native crash.
    /// </summary>
    public static void EnsureLoaded(ComputeDevice device)
    {
        lock (Gate)
        {
            if (device.IsCuda && !_cudaReady) EnsureCuda(device);
            if (_loaded) return;
            NumericalReproducibility.CheckOneDnnIsa();
            MallocTuning.Apply();
            string library = Path.Combine(AppContext.BaseDirectory, NativeLibraryFile);
            if (File.Exists(library) && Diagnose(library) is { } problem)
                throw new TorchRuntimeException(problem);
            try
            {
                torch.tensor(0f).Dispose();
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException)
            {
                string reason = Diagnose(library)
                    ?? $"TorchSharp could not initialise libtorch, although {library} itself loads: {Innermost(e).Message}";
                throw new TorchRuntimeException(reason, e);
            }
            _loaded = true;
        }
    }

    private static bool _cudaReady;

    private static void EnsureCuda(ComputeDevice device)
    {
        CudaReproducibility.PrepareEnvironment();
        string library = Path.Combine(AppContext.BaseDirectory, NativeLibraryFile);
        if (File.Exists(library) && Diagnose(library) is { } problem)
            throw new TorchRuntimeException(problem);
        try
        {
            torch.InitializeDeviceType(DeviceType.CUDA);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or TypeInitializationException)
        {
            throw new TorchRuntimeException(NoCuda(device), e);
        }
        int count = torch.cuda.device_count();
        if ((device.Index ?? 0) >= count)
            throw new TorchRuntimeException($"--device {device.Name}: this machine has {count} CUDA GPU(s), numbered 0 to {count - 1}; pick one of those.");
        CudaReproducibility.Apply();
        _cudaReady = true;
    }

    /// <summary>
    /// Null when a CUDA GPU is usable here (CUDA is then initialised, as <see cref="EnsureLoaded(ComputeDevice)"/> does);
    /// otherwise why not. A machine without the NVIDIA driver is told apart without loading any CUDA library.
    /// </summary>
    public static string? CudaUnavailableReason()
    {
        if (OperatingSystem.IsLinux() && !File.Exists("/proc/driver/nvidia/version"))
            return "no NVIDIA driver on this machine (/proc/driver/nvidia/version is missing)";
        try
        {
            EnsureLoaded(ComputeDevice.Parse("cuda"));
            return null;
        }
        catch (TorchRuntimeException e)
        {
            return e.Message;
        }
    }

    /// <summary>Why <paramref name="device"/> cannot be used, and what to do.</summary>
    public static string NoCuda(ComputeDevice device)
    {
        bool cudaLibtorch = File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so"));
        string cause = cudaLibtorch
            ? "libtorch_cuda is here but CUDA did not initialise: no NVIDIA GPU is visible, or its driver is missing or older than this libtorch's CUDA needs (check nvidia-smi)"
            : "this build carries the CPU-only libtorch (build with -p:TorchBackend=cuda, or -p:TorchBackend=external with a CUDA libtorch on LD_LIBRARY_PATH), or no NVIDIA GPU and driver are present";
        return $"--device {device.Name}: CUDA is not available: {cause}. Use --device cpu to compute on the CPU (docs/gpu.md).";
    }

    /// <summary>
    /// Tries to load a native library and returns null if it loads, otherwise an explanation of the loader's error
    /// with what to do about it.
    /// </summary>
    public static string? Diagnose(string library)
    {
        if (!File.Exists(library))
            return $"{library} is missing: the TorchSharp native libraries were not copied next to the program; build or publish it with 'dotnet build' / 'dotnet publish' for linux-x64.";
        try
        {
            NativeLibrary.Load(library);
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            return DescribeLoadFailure(library, e.Message);
        }
    }

    /// <summary>Turns the dynamic loader's message into one that names the cause and the remedy.</summary>
    public static string DescribeLoadFailure(string library, string loaderMessage)
    {
        string detail = loaderMessage.Trim();
        var missingVersion = MissingVersion().Match(detail);
        if (missingVersion.Success && missingVersion.Groups[1].Value.StartsWith("GLIBCXX_", StringComparison.Ordinal))
        {
            string version = missingVersion.Groups[1].Value;
            return $"cannot load {Path.GetFileName(library)}: your libstdc++ lacks {version}. Build with the repo's build step " +
                   $"(dotnet build / dotnet publish), which marks that need weak in the output copy, or install a newer libstdc++ " +
                   $"(GCC 13 or later). Loader said: {detail}";
        }
        return $"cannot load {Path.GetFileName(library)}: {detail}";
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    [GeneratedRegex(@"version `([A-Za-z_]+[0-9.]+)' not found")]
    private static partial Regex MissingVersion();
}

/// <summary>libtorch cannot be loaded on this machine; the message names the cause and the remedy.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);
