using Grpc.Core;

namespace MetaCluster.Gateway;

/// <summary>The reason label of metacluster_federation_refused_total, one per way the gateway says no.</summary>
public static class RefusalReason
{
    /// <summary>No token, an unknown one, or a wrong one (Unauthenticated).</summary>
    public const string Unauthenticated = "unauthenticated";
    /// <summary>A request naming another client id than the credential's (PermissionDenied).</summary>
    public const string WrongClient = "wrong_client";
    /// <summary>An update for a round or attempt this client was not sampled in, or while no round is open (FailedPrecondition).</summary>
    public const string NotSampled = "not_sampled";
    /// <summary>An update for an earlier round or attempt than the open one (FailedPrecondition).</summary>
    public const string Replay = "replay";
    /// <summary>A second update from the same client for the same round and attempt (AlreadyExists).</summary>
    public const string Duplicate = "duplicate";
    /// <summary>An update after the round's deadline (FailedPrecondition).</summary>
    public const string Late = "late";
    /// <summary>An update whose byte count is not θ's (InvalidArgument).</summary>
    public const string BadShape = "bad_shape";
    /// <summary>A NaN or infinite value in the update (InvalidArgument).</summary>
    public const string NonFinite = "non_finite";
    /// <summary>A weight below 1, or metrics that cannot be (InvalidArgument).</summary>
    public const string BadWeight = "bad_weight";
    public const string BadMetrics = "bad_metrics";
    /// <summary>A message over the gateway's receive limit, θ's largest size plus a margin (ResourceExhausted, refused by gRPC before it is read).</summary>
    public const string TooLarge = "too_large";

    public static readonly IReadOnlyList<string> All =
        [Unauthenticated, WrongClient, NotSampled, Replay, Duplicate, Late, BadShape, NonFinite, BadWeight, BadMetrics, TooLarge];
}

/// <summary>A refused call: the gRPC status code the client gets, the metric's reason label and a message saying what is wrong.</summary>
public sealed class FederationRefusal(StatusCode code, string reason, string message) : Exception(message)
{
    public StatusCode Code { get; } = code;
    public string Reason { get; } = reason;

    public RpcException ToRpcException() => new(new Status(Code, Message));
}
