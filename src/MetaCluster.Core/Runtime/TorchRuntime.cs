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
/// It also asks MKL (statically linked into libtorch) for reproducible results: without MKL_CBWR, MKL's kernels may
/// sum in an order that depends on memory alignment, and two runs with the same seed drift apart after a few dozen
/// rounds. <see cref="ConfigureReproducibility"/> runs when this assembly loads, before any MKL call.
/// </summary>
public static partial class TorchRuntime
{
    public const string NativeLibraryFile = "libLibTorchSharp.so";

    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>MKL's conditional numerical reproducibility mode used unless the environment already sets one.</summary>
    public const string MklReproducibilityVariable = "MKL_CBWR", MklReproducibilityDefault = "AUTO";

#pragma warning disable CA2255 // MKL reads MKL_CBWR once, at its first call: it must be set before any Core code touches torch.
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void InitializeModule() => ConfigureReproducibility();

    /// <summary>
    /// Sets MKL_CBWR=AUTO in the native environment (where MKL reads it) unless it is set already, so that the same
    /// seed and config give the same θ bits run after run on one machine. Has no effect once MKL has initialised.
    /// </summary>
    public static void ConfigureReproducibility()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(MklReproducibilityVariable))) return;
        Environment.SetEnvironmentVariable(MklReproducibilityVariable, MklReproducibilityDefault);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            _ = NativeSetEnv(Utf8Z(MklReproducibilityVariable), Utf8Z(MklReproducibilityDefault), 0);
    }

    /// <summary>Makes sure libtorch is loaded and usable; throws <see cref="TorchRuntimeException"/> naming the real cause if not.</summary>
    /// <remarks>
    /// The library next to the program is probed first: when it cannot load, TorchSharp would otherwise print a long
    /// trace on stdout and copy the whole libtorch package into a "cpu" folder beside the program before failing.
    /// </remarks>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
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

    private static byte[] Utf8Z(string text) => System.Text.Encoding.UTF8.GetBytes(text + "\0");

    // .NET keeps its own copy of the environment on Unix: only libc's setenv reaches getenv in native code.
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int NativeSetEnv(byte[] name, byte[] value, int overwrite);

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
