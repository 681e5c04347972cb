namespace MetaCluster.Contracts;

/// <summary>
/// A worker slot's share of a simulated federated round: θ (raw float32 bytes, as in <see cref="WorkRequest"/>) and
/// the ids of the clients whose updates it computes. The federation itself is named, not carried: the slot rebuilds
/// every client's data from the run's config (<see cref="ConfigVersion"/>), so no image, label or episode crosses
/// the wire — only θ goes out and updates come back.
/// </summary>
[GenerateSerializer, Immutable, Alias("mc.FederatedWorkRequest")]
public sealed class FederatedWorkRequest
{
    /// <summary>Names the simulation in logs and fault tests.</summary>
    [Id(0)] public required string RunId { get; init; }
    /// <summary>The first 16 hex digits of the SHA-256 of the run's FederatedConfig JSON.</summary>
    [Id(1)] public required string ConfigVersion { get; init; }
    /// <summary>
    /// The config itself, only when the slot answered <see cref="FederatedWorkResult.NeedsConfig"/> (it never met this
    /// version, or its activation was collected): a few hundred bytes once per slot, not every round.
    /// </summary>
    [Id(2)] public string? ConfigJson { get; init; }
    [Id(3)] public required long Round { get; init; }
    [Id(4)] public required int Attempt { get; init; }
    [Id(5)] public required byte[] Theta { get; init; }
    [Id(6)] public required string[] Clients { get; init; }
}

/// <summary>One client's update as it leaves a worker slot: float32 bytes in θ's layout, its weight and its own metrics.</summary>
[GenerateSerializer, Immutable, Alias("mc.ClientUpdateMessage")]
public sealed class ClientUpdateMessage
{
    [Id(0)] public required string ClientId { get; init; }
    [Id(1)] public required long Round { get; init; }
    [Id(2)] public required byte[] Update { get; init; }
    [Id(3)] public required long Weight { get; init; }
    [Id(4)] public int Episodes { get; init; }
    [Id(5)] public double? PreLoss { get; init; }
    [Id(6)] public double PostLoss { get; init; }
    [Id(7)] public double? PreAccuracy { get; init; }
    [Id(8)] public double? PostAccuracy { get; init; }
}

/// <summary>A client the slot left out of the round: late, or failed (its computation threw), with why.</summary>
[GenerateSerializer, Immutable, Alias("mc.ClientDropMessage")]
public sealed class ClientDropMessage
{
    [Id(0)] public required string ClientId { get; init; }
    /// <summary>Core's DropReason by name: "Late" or "Failed".</summary>
    [Id(1)] public required string Reason { get; init; }
    [Id(2)] public required string Detail { get; init; }
}

[GenerateSerializer, Immutable, Alias("mc.FederatedWorkResult")]
public sealed class FederatedWorkResult
{
    [Id(0)] public required string Worker { get; init; }
    /// <summary>The slot does not know <see cref="FederatedWorkRequest.ConfigVersion"/>: send the request again with its JSON.</summary>
    [Id(1)] public bool NeedsConfig { get; init; }
    [Id(2)] public ClientUpdateMessage[] Updates { get; init; } = [];
    [Id(3)] public ClientDropMessage[] Dropped { get; init; } = [];
    [Id(4)] public double Seconds { get; init; }
}
