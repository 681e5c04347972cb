using System.CommandLine;
using MetaCluster.Grains.Hosting;

namespace MetaCluster.Cli.Cluster;

/// <summary><c>--cluster</c>, <c>--service-id</c>, <c>--cluster-id</c>: how train, status and cancel reach a running cluster.</summary>
public sealed class ClusterConnectionOptions(string clusterDescription)
{
    public Option<string> Cluster { get; } = new("--cluster")
    {
        Description = clusterDescription,
        HelpName = "redis://HOST:PORT|HOST:PORT[,HOST:PORT…]",
    };
    public Option<string> ServiceId { get; } = new("--service-id")
    {
        Description = "the cluster's Orleans ServiceId",
        HelpName = "ID",
        DefaultValueFactory = _ => MetaClusterSiloOptions.DefaultServiceId,
    };
    public Option<string> ClusterId { get; } = new("--cluster-id")
    {
        Description = "the cluster's Orleans ClusterId",
        HelpName = "ID",
        DefaultValueFactory = _ => MetaClusterSiloOptions.DefaultClusterId,
    };

    public void AddTo(Command command)
    {
        command.Add(Cluster);
        command.Add(ServiceId);
        command.Add(ClusterId);
    }

    /// <summary>The address given with --cluster, <paramref name="fallback"/> when none was, or null.</summary>
    public ClusterAddress? Address(ParseResult result, string? fallback = null) =>
        (result.GetValue(Cluster) ?? fallback) is { } text ? ClusterAddress.Parse(text) : null;

    public Task<ClusterHost> ConnectAsync(ParseResult result, ClusterAddress address)
    {
        string serviceId = result.GetValue(ServiceId) ?? MetaClusterSiloOptions.DefaultServiceId;
        string clusterId = result.GetValue(ClusterId) ?? MetaClusterSiloOptions.DefaultClusterId;
        if (string.IsNullOrWhiteSpace(serviceId) || string.IsNullOrWhiteSpace(clusterId))
            throw new ArgumentException("--service-id and --cluster-id must not be empty.");
        return ClusterHost.ConnectAsync(address, serviceId, clusterId);
    }
}
