using System.Diagnostics;
using System.Runtime.InteropServices;
using MetaCluster.Grains.Hosting;

namespace MetaCluster.Server;

/// <summary>
/// Ends the server with exit code 1 when its silo has been unable to read the membership table (or find itself active
/// in it) for <see cref="ServerOptions.MembershipWatchdog"/> seconds — Redis down that long, or restarted empty (Orleans
/// then logs "The Redis membership table version is missing" forever and never rejoins). The process exiting is what
/// makes its supervisor (Kubernetes, deploy/local/cluster.sh, a test) start it again, and a fresh process joins the
/// table anew; the coordinator's record, written again by the live coordinator, lets its run go on from its checkpoint.
/// It exits at once, as a crash does: a silo cut off from its membership cannot leave the cluster gracefully (the
/// attempt only waits out the shutdown timeout), and workers handing back their episodes would gain nothing.
/// </summary>
internal sealed class MembershipWatchdog(ServerOptions server, IServiceProvider services, SiloReadiness readiness, ILogger<MembershipWatchdog> logger)
    : BackgroundService
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (server.Redis is null || server.MembershipWatchdog <= 0) return;
        var limit = TimeSpan.FromSeconds(server.MembershipWatchdog);
        Stopwatch? failing = null;
        using var timer = new PeriodicTimer(CheckInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!readiness.IsReady) continue; // not joined yet, or leaving
            if (await MembershipCheck.WhyCutOffAsync(services, stoppingToken) is not { } why)
            {
                failing = null;
                continue;
            }
            failing ??= Stopwatch.StartNew();
            if (failing.Elapsed < limit) continue;
            string line = $"membership watchdog: this silo has been unable to read its membership table in Redis for {failing.Elapsed.TotalSeconds:F0} s " +
                $"(--membership-watchdog {server.MembershipWatchdog:0.#}; last error: {why}); Redis is down or lost its data. Exiting with code 1 so that " +
                "the process is restarted and joins the cluster again.";
            logger.LogCritical("{Line}", line);
            Console.Error.WriteLine($"error: {line}");
            Console.Error.Flush();
            await Task.Delay(300, CancellationToken.None); // the console logger writes from its own queue
            _exit(1);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern void _exit(int status);
}
