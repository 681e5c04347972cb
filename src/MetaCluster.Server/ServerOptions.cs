using System.Net;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.Configuration;

namespace MetaCluster.Server;

/// <summary>What this process does in the cluster: coordinators, task workers, or both.</summary>
public enum ServerRole
{
    All,
    Coordinator,
    Worker,
}

/// <summary>
/// The server's settings, section "MetaCluster" of appsettings.json, environment variables (MetaCluster__Role, …) and
/// flags (--role, …; see <see cref="Switches"/>), later sources overriding earlier ones.
/// </summary>
public sealed class ServerOptions
{
    public const string Section = "MetaCluster";

    /// <summary>Short flags for the settings people type; any setting also works as --MetaCluster:Name value.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>
    {
        ["--role"] = $"{Section}:Role",
        ["--redis"] = $"{Section}:Redis",
        ["--service-id"] = $"{Section}:ServiceId",
        ["--cluster-id"] = $"{Section}:ClusterId",
        ["--advertised-ip"] = $"{Section}:AdvertisedIP",
        ["--silo-port"] = $"{Section}:SiloPort",
        ["--gateway-port"] = $"{Section}:GatewayPort",
        ["--http-port"] = $"{Section}:HttpPort",
        ["--slots"] = $"{Section}:Slots",
        ["--threads"] = $"{Section}:TorchThreads",
        ["--device"] = $"{Section}:Device",
        ["--name"] = $"{Section}:Name",
        ["--data-directory"] = $"{Section}:DataDirectory",
        ["--checkpoint-directory"] = $"{Section}:CheckpointDirectory",
        ["--readiness-drain"] = $"{Section}:ReadinessDrain",
        ["--shutdown-timeout"] = $"{Section}:ShutdownTimeout",
        ["--recovery-reminder-period"] = $"{Section}:RecoveryReminderPeriod",
        ["--redis-connect-timeout"] = $"{Section}:RedisConnectTimeout",
        ["--membership-watchdog"] = $"{Section}:MembershipWatchdog",
        ["--worker-wait"] = $"{Section}:WorkerWait",
        ["--federation-port"] = $"{Section}:FederationPort",
        ["--tls-cert"] = $"{Section}:TlsCert",
        ["--tls-key"] = $"{Section}:TlsKey",
        ["--clients-file"] = $"{Section}:ClientsFile",
        ["--federation-max-params"] = $"{Section}:FederationMaxParams",
        ["--federated-run"] = $"{Section}:FederatedRun",
        ["--simulate-episode-ms"] = $"{Section}:SimulateEpisodeMs",
        ["--bulk-transfer"] = $"{Section}:BulkTransfer",
        ["--bulk-port"] = $"{Section}:BulkPort",
        ["--probe-timeout"] = $"{Section}:ProbeTimeout",
        ["--missed-probes"] = $"{Section}:MissedProbes",
        ["--death-votes"] = $"{Section}:DeathVotes",
        ["--load-statistics-period"] = $"{Section}:LoadStatisticsPeriod",
    };

    public ServerRole Role { get; init; } = ServerRole.All;
    /// <summary>StackExchange.Redis configuration for membership, run records and reminders; null = a localhost dev cluster (role all only).</summary>
    public string? Redis { get; init; }
    public string ServiceId { get; init; } = MetaClusterSiloOptions.DefaultServiceId;
    public string ClusterId { get; init; } = MetaClusterSiloOptions.DefaultClusterId;
    /// <summary>The address other silos reach this one at (the pod IP); loopback when not given.</summary>
    public string? AdvertisedIP { get; init; }
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;
    /// <summary>/healthz, /readyz and /metrics — the only HTTP endpoints.</summary>
    public int HttpPort { get; init; } = 8080;
    public int Slots { get; init; } = 1;
    public int TorchThreads { get; init; }
    public string Device { get; init; } = "cpu";

    /// <summary>What --device names: the device this server's worker slots compute on (and the silo's "device" label).</summary>
    public Core.Runtime.ComputeDevice ComputeDevice
    {
        get
        {
            try
            {
                return Core.Runtime.ComputeDevice.Parse(Device);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--device: {e.Message}");
            }
        }
    }
    public string? Name { get; init; }
    /// <summary>Where relative --data paths of runs are found (a mounted volume in Kubernetes).</summary>
    public string? DataDirectory { get; init; }
    /// <summary>Where relative --checkpoint-dir paths of runs are written (a writable volume; the image's root is read-only).</summary>
    public string? CheckpointDirectory { get; init; }
    /// <summary>Seconds the host gives a graceful shutdown; keep it below the pod's terminationGracePeriodSeconds.</summary>
    public double ShutdownTimeout { get; init; } = 25;
    /// <summary>Seconds /readyz answers 503 after SIGTERM before the silo starts leaving (part of the shutdown timeout).</summary>
    public double ReadinessDrain { get; init; } = 2;
    /// <summary>Seconds between a live run's recovery reminder ticks.</summary>
    public double RecoveryReminderPeriod { get; init; } = 60;
    /// <summary>Seconds the server waits at start for Redis to answer (it may be starting too) before it gives up with exit code 2.</summary>
    public double RedisConnectTimeout { get; init; } = 15;
    /// <summary>
    /// Seconds a joined silo may fail to read its membership table (Redis down, or restarted empty) before the server
    /// stops with exit code 1 for its supervisor to restart it; 0 = never.
    /// </summary>
    public double MembershipWatchdog { get; init; } = 30;
    /// <summary>
    /// Seconds a run's round with no live worker (none yet, or all lost mid-round) waits for one to join before the run
    /// fails; coordinators only.
    /// </summary>
    public double WorkerWait { get; init; } = 120;
    /// <summary>The federation gateway's port (gRPC over TLS for federated clients outside the cluster); null = no gateway.</summary>
    public int? FederationPort { get; init; }
    /// <summary>PEM certificate (chain) and private key the federation port serves TLS with.</summary>
    public string? TlsCert { get; init; }
    public string? TlsKey { get; init; }
    /// <summary>The federated clients: one "client-id sha256-hex-of-token" per line (metacluster federated credentials writes it).</summary>
    public string? ClientsFile { get; init; }
    /// <summary>The largest θ (parameters) a federated run may have; the gateway's message size limit follows from it.</summary>
    public int FederationMaxParams { get; init; } = 16 * 1024 * 1024;
    /// <summary>
    /// A federated run's config (JSON, as <c>metacluster federated config</c> writes it) that this server drives through
    /// its gateway: the clients file's clients are the run's training clients. Null = the gateway waits, serving no run.
    /// </summary>
    public string? FederatedRun { get; init; }

    /// <summary>
    /// Workers stand in for GPUs: each episode takes this many milliseconds of wall time (sleeping, not computing) and
    /// returns deterministic values of the model's size; null = the run's real algorithm. For scaling benchmarks.
    /// </summary>
    public double? SimulateEpisodeMs { get; init; }

    /// <summary>
    /// θ and partial sums cross processes over a bulk channel (a TCP port of its own, on the advertised address), the grain
    /// calls carrying tickets; false sends them inside the grain messages. Port 0 takes any free port.
    /// </summary>
    public bool BulkTransfer { get; init; } = true;
    public int BulkPort { get; init; }

    /// <summary>
    /// Failure detection (seconds a probe may take, probes missed, votes that declare a silo dead): the defaults find a
    /// killed silo in about a second; many silos crowded on few cores (a scaling benchmark) need more patience, or a
    /// silo slow to answer while it starts is declared dead.
    /// </summary>
    public double ProbeTimeout { get; init; } = 1;
    public int MissedProbes { get; init; } = 2;
    public int DeathVotes { get; init; } = 1;
    /// <summary>Seconds between a silo's load statistics broadcasts to every other silo (Orleans' default: 1).</summary>
    public double LoadStatisticsPeriod { get; init; } = 10;

    /// <summary>Reads and checks the settings; a bad one is an <see cref="ArgumentException"/> naming it and what to do.</summary>
    public static ServerOptions Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        string? role = section["Role"];
        // The role first: the binder's own message for a bad enum value does not say what the choices are.
        if (role is not null && !Enum.TryParse<ServerRole>(role, ignoreCase: true, out _))
            throw new ArgumentException($"--role must be coordinator, worker or all (got '{role}').");
        ServerOptions options;
        try
        {
            options = section.Get<ServerOptions>() ?? new ServerOptions();
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"bad server setting: {e.InnerException?.Message ?? e.Message}", e);
        }
        options.Validate();
        return options;
    }

    public IPAddress AdvertisedAddress =>
        AdvertisedIP is null ? IPAddress.Loopback
        : IPAddress.TryParse(AdvertisedIP, out var address) ? address
        : throw new ArgumentException($"--advertised-ip must be an IP address (got '{AdvertisedIP}'); in Kubernetes pass the pod IP (status.podIP).");

    public void Validate()
    {
        if (Redis is null && Role != ServerRole.All)
            throw new ArgumentException($"a {Role.ToString().ToLowerInvariant()} server joins a cluster through Redis: pass --redis HOST:PORT[,password=…] (only --role all runs alone, as a localhost cluster).");
        foreach (var (name, port) in new[] { ("--silo-port", SiloPort), ("--gateway-port", GatewayPort), ("--http-port", HttpPort) })
            if (port is < 1 or > 65535) throw new ArgumentException($"{name} must be a TCP port, 1 to 65535 (got {port}).");
        if (SiloPort == GatewayPort || SiloPort == HttpPort || GatewayPort == HttpPort)
            throw new ArgumentException($"the silo, gateway and HTTP ports must differ (got {SiloPort}, {GatewayPort}, {HttpPort}).");
        if (BulkPort is < 0 or > 65535) throw new ArgumentException($"--bulk-port must be 0 (any free port) or a TCP port, 1 to 65535 (got {BulkPort}).");
        if (BulkPort != 0 && (BulkPort == SiloPort || BulkPort == GatewayPort || BulkPort == HttpPort))
            throw new ArgumentException($"--bulk-port must differ from the silo, gateway and HTTP ports (got {BulkPort}).");
        if (Role != ServerRole.Coordinator && Slots < 1) throw new ArgumentException($"--slots must be at least 1 on a worker (got {Slots}).");
        if (TorchThreads < 0) throw new ArgumentException($"--threads must be 0 (libtorch's default) or more (got {TorchThreads}).");
        _ = ComputeDevice;
        if (ShutdownTimeout <= 0) throw new ArgumentException($"--shutdown-timeout must be a positive number of seconds (got {ShutdownTimeout}).");
        if (ReadinessDrain < 0 || ReadinessDrain >= ShutdownTimeout)
            throw new ArgumentException($"--readiness-drain must be 0 or more seconds and below --shutdown-timeout ({ShutdownTimeout}; got {ReadinessDrain}).");
        if (RecoveryReminderPeriod <= 0) throw new ArgumentException($"--recovery-reminder-period must be a positive number of seconds (got {RecoveryReminderPeriod}).");
        if (WorkerWait < 0) throw new ArgumentException($"--worker-wait must be 0 or more seconds (got {WorkerWait}).");
        if (SimulateEpisodeMs is < 0 or double.NaN or double.PositiveInfinity)
            throw new ArgumentException($"--simulate-episode-ms must be 0 or more milliseconds per episode (got {SimulateEpisodeMs}).");
        if (ProbeTimeout <= 0) throw new ArgumentException($"--probe-timeout must be a positive number of seconds (got {ProbeTimeout}).");
        if (LoadStatisticsPeriod <= 0) throw new ArgumentException($"--load-statistics-period must be a positive number of seconds (got {LoadStatisticsPeriod}).");
        if (MissedProbes < 1 || DeathVotes < 1)
            throw new ArgumentException($"--missed-probes and --death-votes must be at least 1 (got {MissedProbes}, {DeathVotes}).");
        if (RedisConnectTimeout <= 0) throw new ArgumentException($"--redis-connect-timeout must be a positive number of seconds (got {RedisConnectTimeout}).");
        if (MembershipWatchdog < 0) throw new ArgumentException($"--membership-watchdog must be 0 (off) or a positive number of seconds (got {MembershipWatchdog}).");
        _ = AdvertisedAddress;
        ValidateFederation();
    }

    private void ValidateFederation()
    {
        if (FederationPort is not { } port)
        {
            if (TlsCert is not null || TlsKey is not null || ClientsFile is not null || FederatedRun is not null)
                throw new ArgumentException("--tls-cert, --tls-key, --clients-file and --federated-run configure the federation gateway: pass --federation-port too.");
            return;
        }
        if (port is < 1 or > 65535) throw new ArgumentException($"--federation-port must be a TCP port, 1 to 65535 (got {port}).");
        if (port == SiloPort || port == GatewayPort || port == HttpPort || port == BulkPort)
            throw new ArgumentException($"--federation-port must differ from the silo, gateway, HTTP and bulk ports (got {port}).");
        if (Role == ServerRole.Worker)
            throw new ArgumentException("the federation gateway serves the runs' coordinators: pass --federation-port to a server with --role coordinator or all.");
        if (TlsCert is null || TlsKey is null)
            throw new ArgumentException("--federation-port serves federated clients over TLS only: pass --tls-cert CERT.pem and --tls-key KEY.pem.");
        if (ClientsFile is null)
            throw new ArgumentException("--federation-port needs the clients it admits: pass --clients-file FILE (metacluster federated credentials writes one).");
        if (FederationMaxParams < 1) throw new ArgumentException($"--federation-max-params must be at least 1 (got {FederationMaxParams}).");
    }

    /// <summary>The silo's MetaCluster wiring for this role.</summary>
    public void Apply(MetaClusterSiloOptions silo)
    {
        silo.Worker = Role != ServerRole.Coordinator;
        silo.Coordinator = Role != ServerRole.Worker;
        silo.Slots = Math.Max(Slots, 1);
        silo.TorchThreads = TorchThreads;
        silo.Device = ComputeDevice;
        silo.Redis = Redis;
        silo.ServiceId = ServiceId;
        silo.ClusterId = ClusterId;
        silo.LocalhostClustering = Redis is null;
        silo.SiloPort = SiloPort;
        silo.GatewayPort = GatewayPort;
        silo.RecoveryReminderPeriod = TimeSpan.FromSeconds(RecoveryReminderPeriod);
        silo.WorkerWaitTimeout = TimeSpan.FromSeconds(WorkerWait);
        (silo.ProbeTimeout, silo.NumMissedProbesLimit, silo.DeathVotes) = (TimeSpan.FromSeconds(ProbeTimeout), MissedProbes, DeathVotes);
        silo.LoadStatisticsPeriod = TimeSpan.FromSeconds(LoadStatisticsPeriod);
        silo.SimulateEpisode = SimulateEpisodeMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;
        (silo.BulkTransfer, silo.BulkPort) = (BulkTransfer, BulkPort);
        (silo.DataDirectory, silo.CheckpointDirectory) = (DataDirectory, CheckpointDirectory);
    }
}
