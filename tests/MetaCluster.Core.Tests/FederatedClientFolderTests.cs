using MetaCluster.Core.Federated;

namespace MetaCluster.Core.Tests;

/// <summary>A real client's trainer from the run's config JSON and its own image folder (what the gateway's client process builds).</summary>
public sealed class FederatedClientFolderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mc-fed-client-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void CreateTrainer_WithADataFolder_TrainsOnThatFolderAndIsReproducible()
    {
        // DIR/<class>/*.png: 3 classes × 2 images, class c a dark bar at row 6 + 6c.
        for (int c = 0; c < 3; c++)
        {
            string folder = Directory.CreateDirectory(Path.Combine(_directory, $"class{c}")).FullName;
            for (int i = 0; i < 2; i++)
            {
                var gray = Enumerable.Repeat((byte)255, 28 * 28).ToArray();
                for (int x = 0; x < 28; x++) gray[(6 + 6 * c + i) * 28 + x] = 0;
                File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), TestPng.Encode(gray, 28, 28));
            }
        }
        var config = FederatedConfig.ForAlgorithm("folder", "fedmeta-fomaml") with { Ways = 2, Shots = 1, Queries = 1, LocalEpisodes = 2, DataDir = "/server/only" };
        var theta = FederatedAlgorithm.Create(config).InitialParameters();
        var trainer = FederatedClients.CreateTrainer(config.ToJson(), "site-7", _directory);
        var update = trainer.Compute(theta, round: 3);
        Assert.Equal("site-7", update.ClientId);
        Assert.Equal(6, update.Weight); // the images it holds
        Assert.Equal(theta.Layout.TotalCount, update.Values.Length);
        Assert.Contains(update.Values, v => v != 0);
        Assert.Equal(update.Values, FederatedClients.CreateTrainer(config.ToJson(), "site-7", _directory).Compute(theta, 3).Values);
        Assert.NotEqual(update.Values, trainer.Compute(theta, 4).Values); // another round, other episodes
        // A folder that cannot serve the run's episodes is named.
        var error = Assert.Throws<ArgumentException>(() => FederatedClients.CreateTrainer((config with { Ways = 5 }).ToJson(), "site-7", _directory));
        Assert.Contains("5-way", error.Message);
    }
}
