using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Runtime;
using MetaCluster.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>
/// The device plumbing: parsing --device, the CPU path through it, CUDA's setup and its refusal where there is no GPU,
/// and — where a GPU is lent — the same math there (close to the CPU's, and repeatable bit for bit on the GPU).
/// </summary>
public class ComputeDeviceTests
{
    [Theory]
    [InlineData("cpu", "cpu", DeviceType.CPU, null)]
    [InlineData(" CPU ", "cpu", DeviceType.CPU, null)]
    [InlineData("cuda", "cuda", DeviceType.CUDA, null)]
    [InlineData("cuda:0", "cuda:0", DeviceType.CUDA, 0)]
    [InlineData("CUDA:12", "cuda:12", DeviceType.CUDA, 12)]
    public void ParsesTheDevicesItNames(string text, string name, DeviceType type, int? index)
    {
        var device = ComputeDevice.Parse(text);
        Assert.Equal(name, device.Name);
        Assert.Equal(type, device.Type);
        Assert.Equal(index, device.Index);
        Assert.Equal(type, device.ToTorch().type);
        Assert.Equal(device, ComputeDevice.Parse(device.Name)); // the silo label reads back as the same device
    }

    [Theory]
    [InlineData("cuda:x", "after 'cuda:' comes a GPU number")]
    [InlineData("cuda:", "after 'cuda:' comes a GPU number")]
    [InlineData("cuda:-1", "after 'cuda:' comes a GPU number")]
    [InlineData("cuda:99999999999", "after 'cuda:' comes a GPU number")]
    [InlineData("gpu", "use cpu, cuda (the first GPU) or cuda:N")]
    [InlineData("", "use cpu, cuda (the first GPU) or cuda:N")]
    [InlineData(null, "use cpu, cuda (the first GPU) or cuda:N")]
    public void AnythingElseIsAnErrorNamingTheAcceptedForms(string? text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TheDeviceIsTheProcesssNotTheConfigs()
    {
        // The checkpointed config has no device in it: a run may move between devices (docs/gpu.md).
        string json = System.Text.Json.JsonSerializer.Serialize(TrainingConfig.ForDataset("sinusoid", "maml"));
        Assert.DoesNotContain("device", json, StringComparison.OrdinalIgnoreCase);
        var run = RunFactory.Create(TrainingConfig.ForDataset("sinusoid", "maml"), ComputeDevice.Cpu);
        Assert.Equal(ComputeDevice.Cpu, run.Algorithm.Options.Device);
        Assert.Equal(DeviceType.CPU, run.Algorithm.Device.type);
    }

    [Fact]
    public void OnTheCpuAnEpisodeStaysWhereItIs()
    {
        var episode = TestEpisodes.Sinusoid();
        Assert.Same(episode, episode.MoveTo(CPU)); // no copy on the CPU path
        episode.Dispose();
    }

    [Fact]
    public void TheCuDnnDeterminismSwitchReachesLibtorch()
    {
        // The reproducibility flag is a host-side libtorch setting: this checks the binding reaches libtorch's context.
        TorchRuntime.EnsureLoaded();
        bool before = CudaReproducibility.DeterministicCuDnn;
        try
        {
            CudaReproducibility.DeterministicCuDnn = true;
            Assert.True(CudaReproducibility.DeterministicCuDnn);
            CudaReproducibility.DeterministicCuDnn = false;
            Assert.False(CudaReproducibility.DeterministicCuDnn);
        }
        finally
        {
            CudaReproducibility.DeterministicCuDnn = before;
        }
    }

    [CpuOnlyBuildFact]
    public void CudaOnACpuOnlyBuildIsAClearError()
    {
        var e = Assert.Throws<TorchRuntimeException>(() => TorchRuntime.EnsureLoaded(ComputeDevice.Parse("cuda:1")));
        Assert.Contains("--device cuda:1: CUDA is not available", e.Message);
        Assert.Contains("--device cpu", e.Message);
        TorchRuntime.EnsureLoaded(); // the CPU is still usable afterwards
        using var t = torch.ones(2);
        Assert.Equal(2f, t.sum().item<float>());
    }

    private static float[] Train(TrainingConfig config, ComputeDevice device)
    {
        var trainer = new MetaTrainer(RunFactory.Create(config, device));
        while (!trainer.Finished) trainer.RunRound();
        return trainer.Theta.Values;
    }

    private static TrainingConfig Sinusoid(string batching) =>
        TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 5, MetaBatch = 4, Seed = 11, Batching = batching };

    [CudaFact]
    public void CudaTrainsTheSameMathAsTheCpuAndRepeatsItsOwnBits()
    {
        foreach (string batching in new[] { "loop", "batched" })
        {
            var cpu = Train(Sinusoid(batching), ComputeDevice.Cpu);
            var gpu = Train(Sinusoid(batching), ComputeDevice.Parse("cuda"));
            Assert.Equal(gpu, Train(Sinusoid(batching), ComputeDevice.Parse("cuda:0"))); // bit for bit on one GPU
            for (int i = 0; i < cpu.Length; i++)
                Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-4 + 1e-4 * Math.Abs(cpu[i]), $"{batching}: θ[{i}] {cpu[i]} on the CPU, {gpu[i]} on the GPU");
        }
    }

    [CudaFact]
    public void CudaConv4ContributionsMatchTheCpuAndEvaluationRunsThere()
    {
        using var scope = NewDisposeScope();
        var config = TrainingConfig.ForDataset("omniglot", "maml") with { Ways = 3, Shots = 1, Queries = 2 };
        var model = new Models.Conv4(3, imageSize: 28);
        var episodes = Enumerable.Range(0, 3).Select(i => TestEpisodes.Images(3, 1, 2, 28, seed: (ulong)(i + 1), index: i)).ToArray();
        var cpuAlgorithm = TrainingRun.CreateAlgorithm(config, model, ComputeDevice.Cpu);
        var gpuAlgorithm = TrainingRun.CreateAlgorithm(config, model, ComputeDevice.Parse("cuda"));
        var theta = model.Initialize(5);
        // Each call gets its own copy of the episode: the algorithm disposes what it is handed.
        Func<long, Episode> sample = i => new Episode(i, TaskKind.Classification, 3, episodes[i].SupportX.clone(), episodes[i].SupportY.clone(),
            episodes[i].QueryX.clone(), episodes[i].QueryY.clone());
        var cpu = cpuAlgorithm.Contribute(theta, [0, 1, 2], sample);
        var gpu = gpuAlgorithm.Contribute(theta, [0, 1, 2], sample);
        Assert.Equal(gpu.Select(c => c.Values), gpuAlgorithm.Contribute(theta, [0, 1, 2], sample).Select(c => c.Values));
        for (int e = 0; e < cpu.Count; e++)
        {
            double scale = cpu[e].Values.Max(v => Math.Abs(v)) + 1e-6;
            double worst = cpu[e].Values.Zip(gpu[e].Values, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-3 * scale, $"episode {e}: the GPU's meta-gradient differs by {worst} (largest value {scale})");
        }
        var (cpuLoss, _) = cpuAlgorithm.Evaluate(theta, episodes[0], 2, BatchNormMode.Transductive);
        var (gpuLoss, _) = gpuAlgorithm.Evaluate(theta, episodes[0], 2, BatchNormMode.Transductive);
        Assert.Equal(cpuLoss, gpuLoss, 3);
    }
}
