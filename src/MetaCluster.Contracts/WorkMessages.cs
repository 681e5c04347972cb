using Orleans.Serialization.Buffers;

namespace MetaCluster.Contracts;

/// <summary>
/// A worker's share of a round. θ travels as raw little-endian float32 bytes: Orleans writes a float[] at about
/// 5 bytes an element, a byte[] as one block. Immutable, so a silo-local call does not deep-copy it.
/// </summary>
[GenerateSerializer, Immutable, Alias("mc.WorkRequest")]
public sealed class WorkRequest
{
    [Id(0)] public required string RunId { get; init; }
    [Id(1)] public required long Round { get; init; }
    /// <summary>
    /// Names the run's config (a hash of its JSON) instead of carrying it: a worker that has not built this config yet
    /// asks the run's coordinator for it once (<see cref="ICoordinatorGrain.GetConfigJson"/>) and keeps the run warm.
    /// </summary>
    [Id(2)] public required string ConfigVersion { get; init; }
    [Id(3)] public required byte[] Theta { get; init; }
    [Id(4)] public required long[] Episodes { get; init; }
    /// <summary>Send one exact partial sum for the share (<see cref="WorkResult.PartialSum"/>) instead of a vector per episode.</summary>
    [Id(5)] public bool PreSum { get; init; }
    /// <summary>
    /// To a silo hub leading a group (an aggregation tree's second level): the group's other hubs, which this hub
    /// deals part of the share to — in proportion to their slots, <see cref="MemberSlots"/> — and whose partial sums it
    /// adds into its own.
    /// </summary>
    [Id(7)] public string[] Members { get; init; } = [];
    [Id(8)] public int[] MemberSlots { get; init; } = [];
    /// <summary>
    /// To a silo hub in another process: θ waits at the coordinator's bulk channel (for a group's other hubs, at its
    /// leader's) and <see cref="Theta"/> is empty; the hub fetches it once and hands its slots the bytes
    /// (<see cref="WithTheta"/>). Slots never see a ticket.
    /// </summary>
    [Id(9)] public BulkTicket? ThetaTicket { get; init; }

    /// <summary>
    /// With <see cref="PreSum"/>, from the slot's own silo hub: the hub's exact sum for its share, lent by reference — the
    /// slot adds each episode into it as it is computed, so no slot keeps a sum of its own and the hub merges none. It is
    /// never serialized: only a silo-local call, which passes this [Immutable] request uncopied, carries it; a slot that
    /// finds none (the call crossed a process after all) sends its partial sum as bytes.
    /// </summary>
    [field: NonSerialized] public IHubShareSum? ShareSum { get; init; }

    /// <summary>The same round, θ and settings for another share of episodes, from the silo's hub to one of its slots.</summary>
    public WorkRequest ForShare(long[] episodes, IHubShareSum? shareSum) => new()
    {
        RunId = RunId, Round = Round, ConfigVersion = ConfigVersion, Theta = Theta, Episodes = episodes, PreSum = PreSum, ShareSum = shareSum,
    };

    /// <summary>The same round, θ and settings for another share, from a group's leading hub to one of the group's hubs.</summary>
    public WorkRequest ForMember(long[] episodes) => new()
    {
        RunId = RunId, Round = Round, ConfigVersion = ConfigVersion, Theta = ThetaTicket is null ? Theta : [], ThetaTicket = ThetaTicket, Episodes = episodes,
        PreSum = PreSum,
    };

    /// <summary>
    /// This request with θ's bytes in it, fetched for its <see cref="ThetaTicket"/>, and the ticket the group's other hubs
    /// (<see cref="ForMember"/>) fetch θ with: the leading hub's own copy, so the coordinator sends θ once a group rather
    /// than once a silo — or none, and θ's bytes go to them in the calls.
    /// </summary>
    public WorkRequest WithTheta(byte[] theta, BulkTicket? forMembers) => new()
    {
        RunId = RunId, Round = Round, ConfigVersion = ConfigVersion, Theta = theta, ThetaTicket = forMembers, Episodes = Episodes, PreSum = PreSum,
        Members = Members, MemberSlots = MemberSlots,
    };
}

/// <summary>One episode's contribution as raw float32 bytes (empty when the worker pre-summed its share), with its metrics.</summary>
[GenerateSerializer, Immutable, Alias("mc.EpisodeContribution")]
public sealed class EpisodeContribution
{
    [Id(0)] public required long Episode { get; init; }
    [Id(1)] public required byte[] Values { get; init; }
    [Id(2)] public double? PreLoss { get; init; }
    [Id(3)] public double PostLoss { get; init; }
    [Id(4)] public double? PreAccuracy { get; init; }
    [Id(5)] public double? PostAccuracy { get; init; }
}

/// <summary>An episode the worker could not compute, and why: the coordinator retries it once elsewhere.</summary>
[GenerateSerializer, Immutable, Alias("mc.EpisodeFailure")]
public sealed class EpisodeFailure
{
    [Id(0)] public required long Episode { get; init; }
    [Id(1)] public required string Error { get; init; }
}

/// <summary>What a worker did with its share: a contribution or a failure for every episode it was given.</summary>
[GenerateSerializer, Immutable, Alias("mc.WorkResult")]
public sealed class WorkResult
{
    [Id(0)] public required string Worker { get; init; }
    [Id(1)] public required string Silo { get; init; }
    [Id(2)] public required EpisodeContribution[] Contributions { get; init; }
    [Id(3)] public required EpisodeFailure[] Failures { get; init; }
    [Id(4)] public double Seconds { get; init; }
    /// <summary>
    /// Episodes the worker gives back uncomputed because its silo is shutting down: the coordinator deals them to
    /// other workers (counted as re-dispatched) and sends this worker nothing more.
    /// </summary>
    [Id(5)] public long[] HandedBack { get; init; } = [];
    /// <summary>
    /// With <see cref="WorkRequest.PreSum"/>: the exact sum (ExactSum wire form: a header, then the fewest bytes a parameter — 1 to 8 — that hold every value) of the
    /// contributions listed in <see cref="Contributions"/>, whose own Values are then empty; empty (length 0) otherwise.
    /// Pooled memory rather than an array: a sum is 900 KB at a Conv4's size, and allocating one per share and reply was
    /// a large part of the coordinator's CPU at 64 workers (the collections it set off). Orleans returns the sender's
    /// buffer to the pool as it writes the message; the receiver disposes of its copy once the sum is added, and must not
    /// read it after.
    /// </summary>
    [Id(6)] public PooledBuffer PartialSum { get; init; }

    /// <summary>Other silos whose work this result carries: a group's hubs, answering through its leading hub.</summary>
    [Id(7)] public string[] AlsoFrom { get; init; } = [];
    /// <summary>
    /// A hub answering a request that came with a <see cref="WorkRequest.ThetaTicket"/>: its partial sum waits at its
    /// silo's bulk channel, to be fetched once, and <see cref="PartialSum"/> is empty until the caller has it
    /// (<see cref="WithPartialSum"/>).
    /// </summary>
    [Id(8)] public BulkTicket? SumTicket { get; init; }

    /// <summary>Whether <see cref="PartialSum"/> holds a sum (not yet, while one waits for its <see cref="SumTicket"/>).</summary>
    public bool HasPartialSum => PartialSum.Length > 0;

    /// <summary>This result with its partial sum waiting at the bulk channel instead of in the message.</summary>
    public WorkResult WithSumTicket(BulkTicket ticket) => WithSum(default, ticket);

    /// <summary>This result with its partial sum fetched for its <see cref="SumTicket"/>.</summary>
    public WorkResult WithPartialSum(PooledBuffer sum) => WithSum(sum, null);

    private WorkResult WithSum(PooledBuffer sum, BulkTicket? ticket) => new()
    {
        Worker = Worker, Silo = Silo, Contributions = Contributions, Failures = Failures, Seconds = Seconds, HandedBack = HandedBack, PartialSum = sum,
        SumTicket = ticket, AlsoFrom = AlsoFrom,
    };
}

/// <summary>A silo hub's exact sum for its share, lent to the slots of its silo (see <see cref="WorkRequest.ShareSum"/>).</summary>
public interface IHubShareSum
{
    /// <summary>
    /// Adds one episode's contribution (<paramref name="episode"/> carries its metrics, no values). False once the hub
    /// has answered — the episode came too late to count; an <see cref="OverflowException"/> for a vector the exact sum
    /// cannot take (non-finite, out of range), of which nothing was added.
    /// </summary>
    bool TryAdd(EpisodeContribution episode, ReadOnlySpan<float> values);
}

[GenerateSerializer, Immutable, Alias("mc.WorkerInfo")]
public sealed class WorkerInfo
{
    [Id(0)] public required string Worker { get; init; }
    [Id(1)] public required string Silo { get; init; }
    [Id(2)] public required string SiloName { get; init; }
    [Id(3)] public required string Device { get; init; }
}
