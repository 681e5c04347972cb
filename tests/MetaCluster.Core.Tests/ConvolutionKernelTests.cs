using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Runtime;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Conv4's gradients on the CPU it runs on, against float64 (which libtorch never computes with oneDNN). oneDNN's AVX-512
/// grouped convolutions give wrong gradients (see <see cref="NumericalReproducibility"/>); MetaCluster caps oneDNN at
/// AVX2. Without that cap the task-batched grey-image cases below fail on an AVX-512 CPU — each tries to make a bad
/// kernel visible by filling freed memory with NaN first, so that reading memory it never wrote cannot give a plausible
/// number by luck.
/// </summary>
public class ConvolutionKernelTests
{
    [Fact]
    public void OneDnnIsCappedAtAvx2InTheNativeEnvironment()
    {
        // The module initializer writes through libc's setenv, which .NET's own environment view does not see.
        if (Environment.GetEnvironmentVariable(NumericalReproducibility.OneDnnIsaVariable) is null)
            Assert.Equal(NumericalReproducibility.OneDnnIsa, NumericalReproducibility.CurrentOneDnnIsa);
        Assert.Null(NumericalReproducibility.OneDnnIsaProblem(NumericalReproducibility.CurrentOneDnnIsa, System.Runtime.Intrinsics.X86.Avx512F.IsSupported));
    }

    [Theory]
    [InlineData("AVX512_CORE")]
    [InlineData("avx512_core_bf16")]
    [InlineData("ALL")]
    [InlineData(null)]
    public void AnIsaThatAllowsAvx512IsRefusedOnAnAvx512Cpu(string? isa)
    {
        string? problem = NumericalReproducibility.OneDnnIsaProblem(isa, cpuHasAvx512: true);
        Assert.NotNull(problem);
        Assert.Contains("ONEDNN_MAX_CPU_ISA", problem);
        Assert.Contains("wrong gradients", problem);
        Assert.Contains("ONEDNN_MAX_CPU_ISA=AVX2", problem);
        Assert.Null(NumericalReproducibility.OneDnnIsaProblem(isa, cpuHasAvx512: false));
    }

    [Theory]
    [InlineData("AVX2")]
    [InlineData("avx2")]
    [InlineData("SSE41")]
    public void AnIsaBelowAvx512IsAccepted(string isa) =>
        Assert.Null(NumericalReproducibility.OneDnnIsaProblem(isa, cpuHasAvx512: true));

    /// <summary>
    /// Second-order MAML through Conv4 in float32, one episode at a time (channels-last convolutions) and task-batched
    /// (grouped convolutions), against float64. With oneDNN's AVX-512 kernels the task-batched grey-image contributions
    /// were off by 1.5 to 10 times their size here (4 to 64 filters), and the NCHW reference of Conv4LayoutTests by 40 %.
    /// </summary>
    [Theory]
    [InlineData(BatchingMode.Loop, 1, 4)]
    [InlineData(BatchingMode.Loop, 3, 12)]
    [InlineData(BatchingMode.Batched, 1, 4)]
    [InlineData(BatchingMode.Batched, 1, 20)]
    [InlineData(BatchingMode.Batched, 3, 8)]
    public void SecondOrderConv4ContributionsMatchFloat64WhateverFreedMemoryHolds(BatchingMode batching, int channels, int filters)
    {
        var model = new Conv4(classes: 3, inChannels: channels, filters: filters, imageSize: 16, tasksPerPass: 4);
        var options = new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = 0.4, Batching = batching };
        var theta = new Maml(model, options).Initialize(5);
        var reference = new Maml(model, options with { Batching = BatchingMode.Loop });
        Episode Sample(long index) => Images(channels, index);

        PoisonFreedMemory();
        var contributions = new Maml(model, options).Contribute(theta, [0L, 1, 2, 3], Sample);

        var values = theta.Values.Select(v => (double)v).ToArray();
        foreach (var contribution in contributions)
        {
            using var episode64 = Sample(contribution.EpisodeIndex).To(ScalarType.Float64);
            var expected = GradientCheck.Analytic(reference, values, theta.Layout, episode64);
            Assert.All(contribution.Values, v => Assert.True(float.IsFinite(v), "a gradient is not finite: a kernel read memory it never wrote"));
            double difference = Math.Sqrt(expected.Zip(contribution.Values, (e, a) => (e - a) * (e - a)).Sum());
            double norm = Math.Sqrt(expected.Sum(e => e * e));
            Assert.True(norm > 0, "the float64 gradient is zero, so the comparison says nothing");
            Assert.True(difference <= 2e-3 * norm, $"episode {contribution.EpisodeIndex}: float32 differs from float64 by a relative {difference / norm:E2}");
        }
    }

    /// <summary>
    /// Allocates and frees NaN-filled buffers of the sizes a small Conv4 step uses, so that the allocator hands those
    /// chunks out again holding NaN (glibc reuses a freed chunk of a size before it touches fresh, zeroed pages).
    /// </summary>
    private static void PoisonFreedMemory()
    {
        var buffers = new List<Tensor>();
        for (long bytes = 256; bytes <= 4 << 20; bytes *= 2)
            for (int copies = 0; copies < 4; copies++)
                buffers.Add(full(bytes / 4 + copies * 16, float.NaN));
        foreach (var buffer in buffers) buffer.Dispose();
    }

    /// <summary>3-way 2-shot, 3 queries a class, 16×16 random pixels with the given number of channels.</summary>
    private static Episode Images(int channels, long index)
    {
        var generator = new TorchSharp.torch.Generator(90 + (ulong)index);
        const int ways = 3, shots = 2, queries = 3, size = 16;
        var support = rand([ways * shots, channels, size, size], generator: generator);
        var query = rand([ways * queries, channels, size, size], generator: generator);
        return new Episode(index, TaskKind.Classification, ways, support, arange(ways).repeat_interleave(shots),
            query, arange(ways).repeat_interleave(queries));
    }
}
