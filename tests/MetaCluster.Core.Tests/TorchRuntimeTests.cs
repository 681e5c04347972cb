using System.Buffers.Binary;
using System.Text;
using MetaCluster.Core.Runtime;

namespace MetaCluster.Core.Tests;

/// <summary>
/// libLibTorchSharp.so needs GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks; the build step marks that need weak
/// in the output copy. These tests check the patch where it matters, that libtorch loads, and that a load failure
/// is explained by its real cause.
/// </summary>
public class TorchRuntimeTests
{
    private const string Glibcxx = "GLIBCXX_3.4.32";

    private static readonly string[] LibStdCxxCandidates =
    [
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6",
    ];

    private static string OutputLibrary => Path.Combine(AppContext.BaseDirectory, TorchRuntime.NativeLibraryFile);

    /// <summary>True/false when a system libstdc++ was found and does/doesn't define the version; null when none was found.</summary>
    private static bool? SystemDefinesGlibcxx()
    {
        string? library = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (library is null) return null;
        return File.ReadAllBytes(library).AsSpan().IndexOf(Encoding.ASCII.GetBytes(Glibcxx + "\0")) >= 0;
    }

    [Fact]
    public void LoadingLibtorchKeepsActivationSizedBuffersOnTheHeap()
    {
        TorchRuntime.EnsureLoaded();
        // glibc accepts both settings (mallopt returns 1) unless the environment already tunes malloc, as CI does not.
        string tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "";
        Assert.False(tunables.Contains("glibc.malloc.") || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null,
            "this test needs an environment without malloc settings of its own");
        Assert.True(MallocTuning.Applied, "glibc refused the mmap/trim thresholds");
    }

    [Fact]
    public void ElfReaderFindsTheLibStdCxxNeedsOfTheTorchSharpLibrary()
    {
        var needs = ElfVersionNeeds.Read(File.ReadAllBytes(OutputLibrary));
        Assert.Contains(needs, n => n.File == "libstdc++.so.6" && n.Name.StartsWith("GLIBCXX_", StringComparison.Ordinal));
        Assert.Contains(needs, n => n.File.StartsWith("libc.so", StringComparison.Ordinal));
    }

    [Fact]
    public void BuildStepMarksTheGlibcxx3432NeedWeakWhereTheSystemLacksIt()
    {
        if (SystemDefinesGlibcxx() is not false) return; // a newer libstdc++: the library is used as shipped
        var needs = ElfVersionNeeds.Read(File.ReadAllBytes(OutputLibrary)).Where(n => n.Name == Glibcxx).ToList();
        Assert.NotEmpty(needs);
        Assert.All(needs, n => Assert.True(n.Weak, $"{OutputLibrary} still needs {Glibcxx} strongly: the build step (build/WeakGlibcxxNeed.targets) did not run."));
    }

    [Fact]
    public void EnsureLoadedSucceeds()
    {
        TorchRuntime.EnsureLoaded();
        TorchRuntime.EnsureLoaded(); // idempotent
        Assert.Null(TorchRuntime.Diagnose(OutputLibrary));
    }

    [Fact]
    public void MklReproducibilityModeReachesTheNativeEnvironment()
    {
        // The module initializer writes through libc's setenv, which .NET's own environment view does not see.
        Assert.NotNull(NumericalReproducibility.Current);
        if (Environment.GetEnvironmentVariable(NumericalReproducibility.Variable) is null)
            Assert.Equal(NumericalReproducibility.Mode, NumericalReproducibility.Current);
    }

    [Fact]
    public void UnpatchedLibraryFailsWithTheRealCauseAndTheRemedy()
    {
        if (SystemDefinesGlibcxx() is not false) return; // the unpatched library would load here
        TorchRuntime.EnsureLoaded(); // its dependencies are then already in the process
        byte[] elf = File.ReadAllBytes(OutputLibrary);
        foreach (var need in ElfVersionNeeds.Read(elf).Where(n => n.Name == Glibcxx))
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan((int)need.FlagsOffset), (ushort)(need.Flags & ~ElfVersionNeed.WeakFlag));
        string directory = Directory.CreateTempSubdirectory("metacluster-unpatched-").FullName;
        try
        {
            string copy = Path.Combine(directory, TorchRuntime.NativeLibraryFile);
            File.WriteAllBytes(copy, elf);
            string? message = TorchRuntime.Diagnose(copy);
            Assert.NotNull(message);
            Assert.Contains($"your libstdc++ lacks {Glibcxx}", message);
            Assert.Contains("dotnet build", message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void LoaderMessagesAreTurnedIntoAdvice()
    {
        string loader = "/app/libLibTorchSharp.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/libLibTorchSharp.so)";
        string glibcxx = TorchRuntime.DescribeLoadFailure("/app/libLibTorchSharp.so", loader);
        Assert.Contains("your libstdc++ lacks GLIBCXX_3.4.32", glibcxx);
        Assert.Contains("marks that need weak", glibcxx);
        Assert.Contains("newer libstdc++", glibcxx);
        Assert.Contains(loader, glibcxx);

        string other = TorchRuntime.DescribeLoadFailure("/app/libLibTorchSharp.so", "libtorch.so: cannot open shared object file: No such file or directory");
        Assert.Equal("cannot load libLibTorchSharp.so: libtorch.so: cannot open shared object file: No such file or directory", other);
    }
}
