using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>One client's private partition: its episodes and how many examples it holds (its weight under "examples" weighting).</summary>
public sealed record FederatedClientData(string Id, IEpisodeSource Source, long Examples);

/// <summary>
/// A set of clients, each with a private partition: those that train, and the new clients held out for evaluation
/// (they never train). Built by <see cref="Federations"/>.
/// </summary>
public sealed class Federation
{
    private readonly Dictionary<string, FederatedClientData> _byId;

    public Federation(string description, IReadOnlyList<FederatedClientData> training, IReadOnlyList<FederatedClientData> newClients)
    {
        if (training.Count == 0) throw new ArgumentException($"{description} has no training clients.");
        Description = description;
        Training = training;
        NewClients = newClients;
        _byId = [];
        foreach (var client in training.Concat(newClients))
            if (!_byId.TryAdd(client.Id, client)) throw new ArgumentException($"{description} has two clients named '{client.Id}'.");
    }

    public string Description { get; }
    public IReadOnlyList<FederatedClientData> Training { get; }
    public IReadOnlyList<FederatedClientData> NewClients { get; }
    public IReadOnlyList<string> TrainingIds => Training.Select(c => c.Id).ToArray();

    public FederatedClientData Client(string id) => _byId.TryGetValue(id, out var client) ? client
        : throw new ArgumentException($"no client '{id}' in {Description}.");

    /// <summary>Throws, naming the client, if any client's data cannot serve episodes of <paramref name="spec"/>.</summary>
    public void Validate(EpisodeSpec spec)
    {
        foreach (var client in Training.Concat(NewClients))
        {
            try
            {
                client.Source.Validate(spec);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"client '{client.Id}' cannot serve {spec.Ways}-way {spec.Shots}-shot episodes: {e.Message}", e);
            }
        }
    }
}
