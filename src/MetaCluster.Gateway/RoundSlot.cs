using Google.Protobuf;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway;

/// <summary>
/// One published round attempt as the gateway holds it: θ already in wire form (encoded once, sent to every sampled
/// client), who is sampled, the deadline, and what came in. Guarded by <see cref="FederationRounds"/>' lock.
/// </summary>
internal sealed class RoundSlot
{
    public RoundSlot(FederatedRoundWork work, DateTimeOffset deadline)
    {
        Round = work.Round;
        Attempt = work.Attempt;
        Layout = work.Theta.Layout;
        Theta = WireFloats.ToBytes(work.Theta.Span);
        ThetaLayout = work.Theta.Layout.Parameters.Select(p => new ThetaTensor { Name = p.Name, Shape = { p.Shape } }).ToArray();
        Participants = work.Participants.ToHashSet(StringComparer.Ordinal);
        Deadline = deadline;
    }

    public long Round { get; }
    public int Attempt { get; }
    public ParameterLayout Layout { get; }
    public ByteString Theta { get; }
    public IReadOnlyList<ThetaTensor> ThetaLayout { get; }
    public HashSet<string> Participants { get; }
    public DateTimeOffset Deadline { get; }
    public bool Closed { get; set; }
    public Dictionary<string, ClientUpdate> Updates { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Refused { get; } = new(StringComparer.Ordinal);

    /// <summary>Completed when every sampled client has answered (an accepted update or a refused one): no need to wait for the deadline.</summary>
    public TaskCompletionSource AllAnswered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Orders attempts: round first, then attempt.</summary>
    public int CompareTo(long round, int attempt) => (Round, Attempt).CompareTo((round, attempt));

    public void CheckAllAnswered()
    {
        if (Participants.All(p => Updates.ContainsKey(p) || Refused.ContainsKey(p))) AllAnswered.TrySetResult();
    }
}
