using MetaCluster.Core.Models;

namespace MetaCluster.Core.Federated;

/// <summary>What the server asks of a round's sampled clients: θ at the round's start and a deadline for their updates.</summary>
/// <param name="Attempt">0 for the round's first sample; a round re-sampled because too few clients answered counts up.</param>
public sealed record FederatedRoundWork(long Round, int Attempt, ParameterSet Theta, IReadOnlyList<string> Participants, TimeSpan Deadline);

/// <summary>Why a sampled client's update is not part of a round.</summary>
public enum DropReason
{
    /// <summary>No update before the round's deadline.</summary>
    Late,

    /// <summary>The client reported an error, or its connection or process was lost.</summary>
    Failed,

    /// <summary>The update arrived but was refused (wrong shape, non-finite values, …).</summary>
    Refused,
}

/// <summary>A sampled client that is left out of a round, and why.</summary>
public sealed record DroppedClient(string ClientId, DropReason Reason, string Detail);

/// <summary>The updates a round collected (any order: the server sums them exactly) and the clients it dropped.</summary>
public sealed record FederatedRoundOutcome(IReadOnlyList<ClientUpdate> Updates, IReadOnlyList<DroppedClient> Dropped);

/// <summary>
/// Who computes a federated round's client updates: simulated clients in this process or on worker slots, or real
/// clients behind the federation gateway. The federated trainer (sampling, exact weighted aggregation, the server
/// step, checkpoints) is the same over every provider, which is what makes a simulation's θ equal a deployment's.
/// </summary>
public interface IClientUpdateProvider
{
    ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default);
}

/// <summary>
/// Computes one client's update on its own data. The same code runs in a simulated client and in a real client
/// process; its randomness comes from (run seed, round, client id) only.
/// </summary>
public interface IClientTrainer
{
    string ClientId { get; }

    ClientUpdate Compute(ParameterSet theta, long round);
}
