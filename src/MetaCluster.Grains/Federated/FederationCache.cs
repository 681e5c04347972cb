using System.Collections.Concurrent;
using MetaCluster.Core.Federated;

namespace MetaCluster.Grains.Federated;

/// <summary>
/// The federations a worker process has built: each once per process, shared by every slot (client data is read-only
/// and safe to sample from several compute threads, as <see cref="Worker.WorkerDatasets"/>' data sets). Keyed by what
/// decides the clients' data — not by the algorithm or round rules — so runs that compare algorithms on one
/// federation load Omniglot once. A build that fails is forgotten, so the next request tries again.
/// </summary>
public sealed class FederationCache
{
    private readonly ConcurrentDictionary<string, Lazy<Federation>> _built = new();

    public Federation Get(FederatedConfig config)
    {
        string key = KeyOf(config);
        var entry = _built.GetOrAdd(key, _ => new Lazy<Federation>(() => Federations.Build(config)));
        try
        {
            return entry.Value;
        }
        catch
        {
            _built.TryRemove(new KeyValuePair<string, Lazy<Federation>>(key, entry));
            throw;
        }
    }

    /// <summary>The settings <see cref="Federations.Build"/> reads (the seed deals Dirichlet classes and held-out clients).</summary>
    public static string KeyOf(FederatedConfig c) =>
        string.Join('|', c.Dataset, c.DataDir, c.Partition, c.Alpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture), c.Clients,
            c.EvalClients.ToString("R", System.Globalization.CultureInfo.InvariantCulture), c.Seed, c.Rotate, c.Ways, c.Shots, c.Queries);
}
