using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace MetaCluster.Gateway;

/// <summary>
/// The federation gateway's instruments, on the server's "MetaCluster" meter (the name of
/// <c>MetaCluster.Grains.Telemetry.MetaClusterMetrics.MeterName</c>, which the server exports to Prometheus; the gateway
/// references Core only, so the name is repeated here). Prometheus names: metacluster_federation_refused_total{reason},
/// metacluster_federation_updates_accepted_total, metacluster_federation_received_bytes_total,
/// metacluster_federation_sent_bytes_total, metacluster_federation_clients_seen. The only label is reason, from the
/// fixed set in <see cref="RefusalReason"/>: never a client id, so the series stay bounded however many clients come.
/// </summary>
public sealed class FederationMetrics
{
    public const string MeterName = "MetaCluster";

    private readonly Counter<long> _refused, _accepted, _received, _sent, _rounds, _clients;
    private readonly Histogram<double> _updateNorm;
    private readonly ConcurrentDictionary<string, byte> _seen = new();

    public FederationMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _refused = meter.CreateCounter<long>("metacluster.federation.refused", "{request}",
            "Federation gateway calls refused, by reason (credentials, wrong client, not sampled, replay, shape, non-finite, size, …).");
        _accepted = meter.CreateCounter<long>("metacluster.federation.updates_accepted", "{update}", "Client updates the gateway accepted into a round.");
        _received = meter.CreateCounter<long>("metacluster.federation.received", "By", "Bytes of gRPC messages the gateway received from authenticated clients.");
        _sent = meter.CreateCounter<long>("metacluster.federation.sent", "By", "Bytes of round replies (θ included) the gateway sent to clients.");
        meter.CreateObservableGauge("metacluster.federation.clients_seen", () => _seen.Count, "{client}",
            "Distinct clients that authenticated to the gateway since the server started.");
        _rounds = meter.CreateCounter<long>("metacluster.federation.rounds", "{round}", "Federated rounds completed (an outer step taken).");
        _clients = meter.CreateCounter<long>("metacluster.federation.round_clients", "{client}",
            "Clients of completed rounds by outcome: sampled, completed, and dropped as late, failed or refused.");
        _updateNorm = meter.CreateHistogram<double>("metacluster.federation.update_norm", null, "L2 norm of each round's mean and largest client update.");
        // Every reason at 0 from the start: a dashboard or alert sees "no refusals yet" rather than no series at all.
        foreach (string reason in RefusalReason.All) _refused.Add(0, Reason(reason));
        _accepted.Add(0);
    }

    public void Refused(string reason) => _refused.Add(1, Reason(reason));
    public void Accepted() => _accepted.Add(1);
    public void Received(long bytes) => _received.Add(bytes);
    public void Sent(long bytes) => _sent.Add(bytes);
    public void Seen(string clientId) => _seen.TryAdd(clientId, 0);

    /// <summary>A completed round of the run this server drives: who was sampled, who made it, who was dropped and why.</summary>
    public void Round(MetaCluster.Core.Federated.FederatedRoundReport report)
    {
        _rounds.Add(1);
        _clients.Add(report.Sampled, Outcome("sampled"));
        _clients.Add(report.Participants.Count, Outcome("completed"));
        foreach (var (reason, count) in report.Dropped) _clients.Add(count, Outcome(reason.ToString().ToLowerInvariant()));
        _updateNorm.Record(report.MeanUpdateNorm, new KeyValuePair<string, object?>("stat", "mean"));
        _updateNorm.Record(report.MaxUpdateNorm, new KeyValuePair<string, object?>("stat", "max"));
    }

    private static KeyValuePair<string, object?> Outcome(string outcome) => new("outcome", outcome);

    private static KeyValuePair<string, object?> Reason(string reason) => new("reason", reason);
}
