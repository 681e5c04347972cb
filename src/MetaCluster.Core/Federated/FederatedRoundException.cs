namespace MetaCluster.Core.Federated;

/// <summary>A round that could not gather enough updates in any of its samples: the run stops with this, naming why.</summary>
public sealed class FederatedRoundException(string message) : Exception(message);
