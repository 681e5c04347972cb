namespace MetaCluster.Cli.Tests;

/// <summary>--device on the commands that compute: the CPU path through it, and what a user sees for a bad or unusable device.</summary>
public sealed class DeviceCliTests : IDisposable
{
    private readonly TestCheckpoints _runs = new("metacluster-device-");

    public void Dispose() => _runs.Dispose();

    private string Theta(string run, params string[] extra) =>
        _runs.Train(run, ["--iterations", "8", "--meta-batch", "5", "--seed", "3", .. extra]).GetProperty("theta_sha256").GetString()!;

    [Fact]
    public void DeviceCpuThroughTheEmbeddedSilosWorkersGivesTheBitsOfNoFlag()
    {
        // The embedded silo's slots compute on --device; the single-process trainer without the flag is the reference.
        Assert.Equal(Theta("plain", "--in-process"), Theta("cpu", "--device", "cpu", "--workers", "2"));
    }

    [Fact]
    public void BenchReportsTheDeviceItRanOn()
    {
        var json = CliRunner.Json("bench", "--iterations", "3", "--eval-tasks", "0", "--device", "cpu");
        Assert.Equal("cpu", json.GetProperty("device").GetString());
    }

    [Theory]
    [InlineData("train", "cuda:x", "after 'cuda:' comes a GPU number")]
    [InlineData("evaluate", "gpu", "use cpu, cuda (the first GPU) or cuda:N")]
    [InlineData("adapt", "cuda:", "after 'cuda:' comes a GPU number")]
    [InlineData("bench", "GPU0", "use cpu, cuda (the first GPU) or cuda:N")]
    public void ABadDeviceIsOneErrorLineAndExitCode2(string command, string device, string message)
    {
        string stderr = CliRunner.Refused(command, "--device", device, "--json");
        Assert.Contains($"--device: '{device}' is not a device", stderr);
        Assert.Contains(message, stderr);
    }

    [NoUsableCudaFact]
    public void CudaWhereNoneIsUsableIsAClearErrorNotACrash()
    {
        string stderr = CliRunner.Refused("bench", "--device", "cuda", "--iterations", "1", "--eval-tasks", "0");
        Assert.StartsWith("error: --device cuda: CUDA is not available", stderr);
        Assert.Contains("--device cpu", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void DeviceWithClusterIsRefused()
    {
        var (code, _, stderr) = CliRunner.Run("train", "--cluster", "localhost:1", "--device", "cpu", "--json");
        Assert.Equal(2, code);
        Assert.Contains("metacluster-server --device", stderr);
    }
}

/// <summary>A fact about a machine where CUDA cannot be used; skipped, saying so, for a CUDA build on a GPU machine.</summary>
public sealed class NoUsableCudaFactAttribute : FactAttribute
{
    public NoUsableCudaFactAttribute()
    {
        if (File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so")) && File.Exists("/proc/driver/nvidia/version"))
            Skip = "a CUDA build on a machine with an NVIDIA driver: CUDA may well be usable here (the Core tests' [CudaFact]s run instead)";
    }
}
