using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace MetaCluster.Grains.Hosting;

/// <summary>
/// Whether this silo can still read its membership table and is active in it. A silo whose table is gone (Redis
/// restarted empty, or down) is cut off from the cluster: Orleans does not rejoin on its own, so the server's
/// watchdog restarts the process, and a coordinator there leaves its run to the next activation rather than fail it.
/// </summary>
public static class MembershipCheck
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Null when the table reads and lists this silo as active; otherwise why not. Null too where no table is registered.</summary>
    public static async Task<string?> WhyCutOffAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        if (services.GetService<IMembershipTable>() is not { } table) return null;
        try
        {
            var data = await table.ReadAllAsync(cancellationToken).WaitAsync(ReadTimeout, cancellationToken);
            var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
            return data.Members.Any(m => m.Item1.SiloAddress.Equals(self) && m.Item1.Status == SiloStatus.Active)
                ? null
                : $"this silo ({self}) is not active in the membership table ({data.Members.Count} entries)";
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return $"{e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}";
        }
    }
}
