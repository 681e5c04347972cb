namespace MetaCluster.Grains.Coordinator;

/// <summary>A round that cannot complete: an episode failed on two workers, or no worker is left.</summary>
public sealed class RoundFailedException(string message) : Exception(message);
