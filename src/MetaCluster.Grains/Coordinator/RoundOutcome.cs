using MetaCluster.Contracts;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// What a round's dispatch produced: one contribution per episode (without values where a worker pre-summed), the
/// workers' pre-summed shares (unless the dispatcher handed them on as they came), the workers still live, the silos
/// that computed.
/// </summary>
internal sealed record RoundOutcome(IReadOnlyList<EpisodeContribution> Contributions, IReadOnlyList<(long[] Episodes, PooledBuffer Sum)> Shares, int LiveWorkers, string[] Silos)
{
    /// <summary>The reply that completed the round last: where the round's critical path went (<see cref="LastReply"/>).</summary>
    public LastReply? Last { get; init; }

    /// <summary>Seconds from the round's first call to its last reply: the round less the coordinator's own work.</summary>
    public double DispatchSeconds { get; init; }

    /// <summary>Bytes of the pre-summed shares accepted, wherever they went.</summary>
    public long ShareBytes { get; init; }

    /// <summary>Bytes of contributions received (vectors and partial sums), for the metrics.</summary>
    public long ContributionBytes => Contributions.Sum(c => (long)c.Values.Length) + ShareBytes;
}

/// <summary>
/// The call whose reply completed a round: <see cref="CallSeconds"/> from sending it to its reply, of which the callee
/// reported <see cref="WorkerSeconds"/> inside itself (a slot's share, or a hub's with its slots and members); the rest
/// went to serializing, the wire and queues — θ down and the reply up. A call sent after
/// the round began (a worker's next share of a round too big for one message, a redispatch) started late: the round's
/// <see cref="RoundOutcome.DispatchSeconds"/> less this call is that wait.
/// </summary>
internal sealed record LastReply(double CallSeconds, double WorkerSeconds);
