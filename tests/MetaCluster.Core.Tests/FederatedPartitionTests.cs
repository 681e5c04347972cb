using MetaCluster.Core.Episodes;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

/// <summary>Federations: Omniglot by alphabet, Dirichlet label partitions, sinusoid clients and held-out new clients.</summary>
public sealed class FederatedPartitionTests : IDisposable
{
    private readonly TinyOmniglot _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public void OmniglotByAlphabet_BackgroundAlphabetsTrainEvaluationAlphabetsAreNewAndEpisodesStayInTheirAlphabet()
    {
        var characters = OmniglotDataset.Load(_data.Dir, new OmniglotOptions { Split = OmniglotSplit.Lake, UseCache = false }).Characters;
        var federation = Federations.OmniglotByAlphabet(characters, rotate: false);
        Assert.Equal(["Alpha", "Beta"], federation.TrainingIds);
        Assert.Equal(["Zeta"], federation.NewClients.Select(c => c.Id));
        foreach (var client in federation.Training.Concat(federation.NewClients))
        {
            var source = Assert.IsType<ClassEpisodeSource>(client.Source);
            int[] expected = Enumerable.Range(0, TinyOmniglot.Classes.Length)
                .Where(c => TinyOmniglot.Classes[c].Split('/')[1] == client.Id).ToArray();
            Assert.Equal(expected, source.Views.Select(v => v.BaseClass).Order());
            Assert.Equal(expected.Length * TinyOmniglot.Drawings, client.Examples);
            // Every image of an episode is a drawing of one of this alphabet's characters.
            using var episode = source.Sample(new EpisodeSpec(2, 1, 2), 0, 42);
            var images = TensorData.ToFloats(episode.SupportX).Concat(TensorData.ToFloats(episode.QueryX)).ToArray();
            for (int i = 0; i < images.Length / (28 * 28); i++)
                Assert.Contains(TinyOmniglot.Identify(images.AsSpan(i * 28 * 28, 28 * 28), 28).Character, expected);
        }
        // With rotations each character is four classes, and the weight counts them.
        var rotated = Federations.OmniglotByAlphabet(characters, rotate: true);
        Assert.Equal(4 * 3 * TinyOmniglot.Drawings, rotated.Client("Alpha").Examples);
        Assert.Equal(12, ((ClassEpisodeSource)rotated.Client("Alpha").Source).ClassCount);
    }

    [Fact]
    public void OmniglotDirichlet_DealsEveryBackgroundCharacterOnce()
    {
        var characters = OmniglotDataset.Load(_data.Dir, new OmniglotOptions { Split = OmniglotSplit.Lake, UseCache = false }).Characters;
        var federation = Federations.OmniglotDirichlet(characters, rotate: false, clients: 3, alpha: 0.5, seed: 5);
        var dealt = federation.Training.SelectMany(c => ((ClassEpisodeSource)c.Source).Views.Select(v => v.BaseClass)).Order().ToArray();
        Assert.Equal([0, 1, 2, 3, 4, 5], dealt);
        Assert.Equal(["Zeta"], federation.NewClients.Select(c => c.Id));
    }

    [Fact]
    public void Dirichlet_IsSeededAssignsEveryClassExactlyOnceAndAlphaControlsHowMixedClientsAre()
    {
        int[] groups = Enumerable.Range(0, 200).Select(c => c / 20).ToArray(); // 10 groups of 20 classes
        var a = DirichletPartition.Deal(groups, 10, 0.05, seed: 3);
        var b = DirichletPartition.Deal(groups, 10, 0.05, seed: 3);
        var c = DirichletPartition.Deal(groups, 10, 0.05, seed: 4);
        Assert.Equal(a, b);
        Assert.NotEqual(a.Select(x => string.Join(",", x)), c.Select(x => string.Join(",", x)));
        foreach (var partition in new[] { a, c, DirichletPartition.Deal(groups, 7, 100, seed: 3) })
        {
            Assert.Equal(Enumerable.Range(0, 200), partition.SelectMany(x => x).Order());
            Assert.InRange(partition.Max(x => x.Length) - partition.Min(x => x.Length), 0, 1);
        }
        double MeanGroups(int[][] partition) => partition.Average(x => x.Select(i => groups[i]).Distinct().Count());
        double concentrated = MeanGroups(a), mixed = MeanGroups(DirichletPartition.Deal(groups, 10, 100, seed: 3));
        // Each client's 20 classes could come from 1 group (of 20): small α keeps clients to few groups, large α mixes.
        Assert.True(mixed > 8, $"α = 100: clients hold {mixed} groups on average");
        Assert.True(concentrated < 0.6 * mixed, $"α = 0.05: clients hold {concentrated} groups on average, {mixed} at α = 100");
        Assert.Throws<ArgumentException>(() => DirichletPartition.Deal(groups, 201, 1, 0));
    }

    [Fact]
    public void Dirichlet_SamplesSumToOneAndFollowTheirMean()
    {
        var rng = new DeterministicRandom(9);
        var mean = new double[4];
        for (int i = 0; i < 4000; i++)
        {
            var draw = DirichletPartition.Sample(4, 0.3, rng);
            Assert.Equal(1.0, draw.Sum(), 9);
            for (int k = 0; k < 4; k++) mean[k] += draw[k] / 4000;
        }
        foreach (double m in mean) Assert.InRange(m, 0.22, 0.28); // E = 1/4
    }

    [Fact]
    public void SinusoidClients_HaveTheirOwnRangesAndASeededHeldOutFraction()
    {
        var federation = Federations.Sinusoid(100, 0.2, seed: 1);
        Assert.Equal(80, federation.Training.Count);
        Assert.Equal(20, federation.NewClients.Count);
        Assert.Empty(federation.TrainingIds.Intersect(federation.NewClients.Select(c => c.Id)));
        Assert.Equal(federation.TrainingIds, Federations.Sinusoid(100, 0.2, seed: 1).TrainingIds);
        Assert.NotEqual(federation.TrainingIds, Federations.Sinusoid(100, 0.2, seed: 2).TrainingIds);

        var source = (SinusoidClientSource)federation.Client("sine-007").Source; // amplitude band 2, phase band 1
        Assert.Equal(0.1 + 2 * 0.98, source.MinAmplitude, 12);
        Assert.Equal(Math.PI / 4, source.MinPhase, 12);
        using var episode = source.Sample(new EpisodeSpec(1, 50, 50), 0, 11);
        var y = TensorData.ToFloats(episode.SupportY);
        Assert.True(y.Max(v => Math.Abs(v)) <= source.MaxAmplitude + 1e-5);
    }

    [Fact]
    public void ClientSeeds_DependOnRunRoundAndIdOnly()
    {
        Assert.Equal(ClientSeeds.ForRound(1, 5, "sine-001"), ClientSeeds.ForRound(1, 5, "sine-001"));
        Assert.NotEqual(ClientSeeds.ForRound(1, 5, "sine-001"), ClientSeeds.ForRound(1, 5, "sine-002"));
        Assert.NotEqual(ClientSeeds.ForRound(1, 5, "sine-001"), ClientSeeds.ForRound(1, 6, "sine-001"));
        Assert.NotEqual(ClientSeeds.ForRound(1, 5, "sine-001"), ClientSeeds.ForRound(2, 5, "sine-001"));
        // The id's hash is the first 8 bytes of its SHA-256, little endian: stable across processes and runtimes.
        byte[] sha = System.Security.Cryptography.SHA256.HashData("Alpha"u8.ToArray());
        Assert.Equal(BitConverter.ToInt64(sha, 0), ClientSeeds.IdHash("Alpha"));
    }
}
