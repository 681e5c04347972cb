using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;
using StackExchange.Redis;

namespace MetaCluster.Server;

/// <summary>
/// Once the silo has joined, one line saying which cluster it joined and who is in it — "cluster id X, service id Y:
/// N silos active (…)" — and a warning naming the other cluster ids Redis holds membership for under the same service
/// id: a server given a wrong --cluster-id otherwise forms a cluster of its own without a word.
/// </summary>
internal sealed class ClusterReport(ServerOptions server, IClusterMembershipService membership, ClusterMembershipOptions membershipOptions,
    ILogger<ClusterReport> logger, IConnectionMultiplexer? redis = null) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>An active entry not refreshed for this long is taken for a silo that died without leaving.</summary>
    private TimeSpan Silent => membershipOptions.IAmAliveTablePublishTimeout * 2;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ClusterReport), ServiceLifecycleStage.Active, ReportAsync);

    private async Task ReportAsync(CancellationToken cancellation)
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).OrderBy(m => m.SiloAddress.Endpoint.ToString()).ToList();
        string line = $"cluster id {server.ClusterId}, service id {server.ServiceId}: {active.Count} silo{(active.Count == 1 ? "" : "s")} active " +
            $"({string.Join(", ", active.Select(m => $"{m.Name ?? "?"} {m.SiloAddress.Endpoint}"))})";
        IReadOnlyList<(string ClusterId, int Live, string Text)> others = [];
        if (redis is not null)
        {
            try
            {
                others = await OtherClustersAsync(redis);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                logger.LogWarning("{Line}; could not list other cluster ids in Redis: {Error}", line, e.Message.Split('\n')[0]);
                return;
            }
            finally
            {
                await redis.DisposeAsync(); // the preflight's connection: the silo has its own
            }
        }
        string list = string.Join(", ", others.Select(o => o.Text));
        if (others.Any(o => o.Live > 0))
            logger.LogWarning("{Line}. Redis also holds membership for service id {ServiceId} under other cluster ids: {Others}. " +
                "Servers and clients see only the silos of their own --cluster-id: check that this one is meant to be {ClusterId}.",
                line, server.ServiceId, list, server.ClusterId);
        else if (others.Count > 0)
            logger.LogInformation("{Line}; Redis also holds membership of earlier clusters of service id {ServiceId}: {Others}.", line, server.ServiceId, list);
        else
            logger.LogInformation("{Line}", line);
    }

    /// <summary>The other cluster ids of this service id in Redis: how many silos are live in each, described ("prod (2 silos active, last heard 3 s ago)").</summary>
    private async Task<IReadOnlyList<(string ClusterId, int Live, string Text)>> OtherClustersAsync(IConnectionMultiplexer connection)
    {
        var clusters = await RedisPreflight.ClustersAsync(connection, server.ServiceId);
        var now = DateTimeOffset.UtcNow;
        var described = new List<(string, int, string)>();
        foreach (var (clusterId, rows) in clusters)
        {
            if (clusterId == server.ClusterId) continue;
            var live = rows.Where(r => r.Status == MembershipRow.Active && r.IAmAliveTime is { } t && now - t < Silent).ToList();
            described.Add((clusterId, live.Count, live.Count == 0 ? $"{clusterId} (no silo active)"
                : $"{clusterId} ({live.Count} silo{(live.Count == 1 ? "" : "s")} active, last heard {(now - live.Max(r => r.IAmAliveTime!.Value)).TotalSeconds:0} s ago)"));
        }
        return described;
    }
}
