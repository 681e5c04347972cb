using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>Builds client trainers: for a real client process (the gateway's entry point) and for simulations.</summary>
public static class FederatedClients
{
    /// <summary>
    /// A real client's trainer from the run's config JSON (<see cref="FederatedConfig.ToJson"/>), its id and its local
    /// data folder. An image client's folder holds one sub-folder of images per class (e.g. one Omniglot alphabet,
    /// one folder per character); without a folder the client's partition is rebuilt from the config (sinusoid
    /// clients are defined by their id; image clients from the run's --data).
    /// </summary>
    public static IClientTrainer CreateTrainer(string configJson, string clientId, string? dataDir)
    {
        if (string.IsNullOrWhiteSpace(clientId)) throw new ArgumentException("a client needs a non-empty id.");
        var config = FederatedConfig.FromJson(configJson);
        var algorithm = FederatedAlgorithm.Create(config);
        if (dataDir is null) return new FederatedClientTrainer(algorithm, Federations.Build(config).Client(clientId));
        if (config.Dataset == "sinusoid")
            throw new ArgumentException($"sinusoid clients generate their tasks from their id; start client '{clientId}' without a data folder.");
        var images = ImageFolder.Load(dataDir, new ImageFolderOptions());
        var views = ClassView.For(Enumerable.Range(0, images.ClassCount), config.Rotate);
        long examples = (long)images.TotalImages * (config.Rotate ? 4 : 1);
        var source = new ClassEpisodeSource(images, views, $"client {clientId} ({views.Count} classes)");
        return new FederatedClientTrainer(algorithm, new FederatedClientData(clientId, source, examples));
    }

    /// <summary>Trainers for a federation's clients, built on first use and kept (a simulation reuses them every round).</summary>
    public static Func<string, IClientTrainer> Cached(FederatedAlgorithm algorithm, Federation federation)
    {
        var trainers = new Dictionary<string, IClientTrainer>();
        return id =>
        {
            lock (trainers)
            {
                if (!trainers.TryGetValue(id, out var trainer))
                    trainers[id] = trainer = new FederatedClientTrainer(algorithm, federation.Client(id));
                return trainer;
            }
        };
    }
}
