namespace MetaCluster.Gateway;

/// <summary>The gateway's limits and pacing.</summary>
public sealed class FederationGatewayOptions
{
    /// <summary>
    /// The largest θ (parameter count) a run served through this gateway may have. gRPC's receive limit is set from it:
    /// θ's bytes plus <see cref="ReceiveMargin"/>, so anything bigger than the largest valid update is refused with
    /// ResourceExhausted before it is read into memory. 16 Mi parameters (64 MiB) by default: Conv4 has about 113 k.
    /// </summary>
    public int MaxParameters { get; init; } = 16 * 1024 * 1024;

    /// <summary>Room for an update message's other fields (ids, round, weight, metrics) on top of θ's bytes.</summary>
    public int ReceiveMargin { get; init; } = 64 * 1024;

    /// <summary>How long a client waits before it asks again while no round is open for it.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int MaxReceiveMessageSize => checked(MaxParameters * sizeof(float) + ReceiveMargin);

    public void Validate()
    {
        if (MaxParameters < 1 || MaxParameters > (int.MaxValue - ReceiveMargin) / sizeof(float))
            throw new ArgumentException($"the federation gateway's largest θ must be 1 to {(int.MaxValue - ReceiveMargin) / sizeof(float)} parameters (got {MaxParameters}).");
        if (PollInterval <= TimeSpan.Zero) throw new ArgumentException($"the federation poll interval must be positive (got {PollInterval}).");
    }
}
