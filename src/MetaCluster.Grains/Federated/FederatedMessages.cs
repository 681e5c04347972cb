using MetaCluster.Contracts;
using MetaCluster.Core.Federated;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Grains.Federated;

/// <summary>Core's client updates and drops ⇄ the grain messages that carry them (float32 values as raw bytes).</summary>
public static class FederatedMessages
{
    public static FederatedWorkResult ToResult(string worker, FederatedRoundOutcome outcome, double seconds) => new()
    {
        Worker = worker,
        Updates = outcome.Updates.Select(u => new ClientUpdateMessage
        {
            ClientId = u.ClientId, Round = u.Round, Update = FloatBytes.ToBytes(u.Values), Weight = u.Weight, Episodes = u.Metrics.Episodes,
            PreLoss = u.Metrics.PreLoss, PostLoss = u.Metrics.PostLoss, PreAccuracy = u.Metrics.PreAccuracy, PostAccuracy = u.Metrics.PostAccuracy,
        }).ToArray(),
        Dropped = outcome.Dropped.Select(d => new ClientDropMessage { ClientId = d.ClientId, Reason = d.Reason.ToString(), Detail = d.Detail }).ToArray(),
        Seconds = seconds,
    };

    public static ClientUpdate ToUpdate(ClientUpdateMessage m) =>
        new(m.ClientId, m.Round, FloatBytes.AsFloats(m.Update).ToArray(), m.Weight, new ClientMetrics(m.Episodes, m.PreLoss, m.PostLoss, m.PreAccuracy, m.PostAccuracy));

    public static DroppedClient ToDrop(ClientDropMessage m) =>
        new(m.ClientId, Enum.TryParse<DropReason>(m.Reason, out var reason) ? reason : DropReason.Failed, m.Detail);
}
