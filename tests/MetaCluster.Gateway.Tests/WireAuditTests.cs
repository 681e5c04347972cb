using System.Reflection;
using MetaCluster.Contracts;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// Issue 11: "A client's raw data never crosses a process boundary: only θ goes out and updates come back." Every
/// Orleans-serializable type of MetaCluster.Contracts, every grain method's parameters and results, and every
/// field of the gateway's protobuf messages is walked; the only number or byte arrays on the wire are the ones below.
/// </summary>
public class WireAuditTests
{
    /// <summary>The fields allowed to carry arrays of numbers or bytes, or to have a data-like name, and why each is not a client's data.</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        // θ and what is computed from it: parameter-shaped float32 vectors, never inputs or labels.
        ["WorkRequest.Theta"] = "θ sent to a task worker",
        ["EpisodeContribution.Values"] = "a meta-gradient or Reptile delta in θ's layout",
        ["WorkResult.PartialSum"] = "an exact sum of contributions in θ's layout (fixed point)",
        ["ThetaSnapshot.Values"] = "θ after a round, for the client that started the run",
        ["StartRunRequest.ResumeCheckpoint"] = "a checkpoint: θ, the optimizer's moment vectors and the config",
        ["ICoordinatorGrain.GetLatestCheckpoint→"] = "the same checkpoint bytes",
        ["FederatedWorkRequest.Theta"] = "θ sent to a worker slot simulating clients",
        ["ClientUpdateMessage.Update"] = "a client's update (delta or meta-gradient) in θ's layout",
        ["RoundReply.theta"] = "θ sent to a real client",
        ["UpdateRequest.update"] = "a real client's update in θ's layout",
        ["ThetaTensor.shape"] = "the shape of one of θ's tensors",
        // Episode indices are numbers, not data: an index names which episode of the run's seeded stream a worker
        // draws from the data it already holds (round × meta-batch + i). (A single index or count — Episode,
        // Episodes, EpisodesPerSecond — is a scalar, which cannot hold data whatever its name, and needs no entry.)
        ["WorkRequest.Episodes"] = "episode indices a task worker samples from its own copy of the data",
        ["WorkResult.HandedBack"] = "episode indices a stopping worker gives back uncomputed",
        // Counts of the cluster's own resources.
        ["WorkRequest.MemberSlots"] = "how many worker slots each hub of a hub group has (its share of the episodes)",
    };

    private static WireAudit AuditEverything()
    {
        var audit = new WireAudit(Allowed);
        var contracts = typeof(WorkRequest).Assembly;
        foreach (var type in contracts.GetTypes().Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is not null)) audit.CheckType(type);
        foreach (var grain in contracts.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t))) audit.CheckInterface(grain);
        foreach (var message in FederationReflection.Descriptor.MessageTypes) audit.CheckProto(message);
        return audit;
    }

    [Fact]
    public void NoGrainOrGatewayMessage_CarriesImagesLabelsOrEpisodes()
    {
        var audit = AuditEverything();
        Assert.Empty(audit.Problems);
        // It walked what it claims to: the training and the federated messages, nested ones, and the protobuf ones.
        Assert.Contains("WorkRequest.Theta", audit.Visited);
        Assert.Contains("FederatedWorkRequest.Clients", audit.Visited);
        Assert.Contains("ClientUpdateMessage.Update", audit.Visited);
        Assert.Contains("UpdateMetrics.post_loss", audit.Visited);
        Assert.Contains("IFederatedWorkerGrain.ComputeClients(request)", audit.Visited);
        // Every allow-list entry names a field that exists: a renamed field cannot leave a stale exemption behind.
        Assert.Empty(Allowed.Keys.Except(audit.Visited));
    }

    [Fact]
    public void AMessageWithImagesLabelsOrAnEpisode_IsFlagged()
    {
        var audit = new WireAudit(Allowed);
        audit.CheckType(typeof(LeakyMessage));
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyMessage.Images: its name", StringComparison.Ordinal));
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyMessage.Images: a tensor-like payload", StringComparison.Ordinal));
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyMessage.Pixels: a tensor-like payload", StringComparison.Ordinal)); // an innocent name does not hide a payload
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyMessage.Labels:", StringComparison.Ordinal));
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyInner.SupportSet:", StringComparison.Ordinal)); // found in a nested message
        Assert.Contains(audit.Problems, p => p.StartsWith("LeakyMessage.Task: its type Episode", StringComparison.Ordinal));
        Assert.DoesNotContain(audit.Problems, p => p.StartsWith("LeakyMessage.Round", StringComparison.Ordinal));
    }

    /// <summary>What must never be written: a message carrying a client's images, labels and an episode.</summary>
    private sealed class LeakyMessage
    {
        public long Round { get; init; }
        public byte[] Images { get; init; } = [];
        public float[] Pixels { get; init; } = [];
        public int[]? Labels { get; init; }
        public LeakyInner Inner { get; init; } = new();
        public Core.Episodes.Episode? Task { get; init; }
    }

    private sealed class LeakyInner
    {
        public List<double> SupportSet { get; init; } = [];
    }
}
