namespace MetaCluster.Grains.Hosting;

/// <summary>What one silo offers the training cluster, and how the cluster reacts to failures.</summary>
public sealed class MetaClusterSiloOptions
{
    /// <summary>This silo hosts task workers (compute). A silo without it hosts none.</summary>
    public bool Worker { get; set; } = true;

    /// <summary>Worker activations on this silo: one per compute slot (a GPU, or a share of the CPU cores).</summary>
    public int Slots { get; set; } = 1;

    /// <summary>
    /// The device the slots compute on (episodes, θ's tensors and the models live there; contributions come back to
    /// the CPU), advertised in the silo metadata by its name ("cpu", "cuda", "cuda:1").
    /// </summary>
    public Core.Runtime.ComputeDevice Device { get; set; } = Core.Runtime.ComputeDevice.Cpu;

    /// <summary>
    /// Stand in for a GPU: each episode takes this long in wall time without using a core, and contributions are
    /// deterministic values of the model's size (<see cref="Worker.SimulatedContributions"/>) — for measuring how one
    /// coordinator feeds many fast workers. Null: the run's real algorithm.
    /// </summary>
    public TimeSpan? SimulateEpisode { get; set; }

    /// <summary>This silo may host run coordinators. When no silo offers it, coordinators go anywhere.</summary>
    public bool Coordinator { get; set; } = true;

    /// <summary>
    /// libtorch intra-op threads for this process (torch.set_num_threads is process-wide, so it is set once per silo,
    /// never per grain); 0 leaves libtorch's default. Slots × threads should not exceed the cores.
    /// </summary>
    public int TorchThreads { get; set; }

    /// <summary>
    /// Failure detection sized for a training cluster: Orleans' defaults (5 s probes, 3 misses) take over ten seconds
    /// to declare a killed silo dead, and the round stalls meanwhile; 1 s probes and 2 misses take about a second.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);
    public int NumMissedProbesLimit { get; set; } = 2;

    /// <summary>
    /// How often a silo sends its load statistics (for placement) to every other silo: Orleans' 1 s default makes that
    /// N² messages a second in an N-silo cluster — with 65 silos sharing two cores, measured as a large part of their
    /// idle CPU. Only the coordinator's default placement reads them, and it does not need them fresher than this.
    /// </summary>
    public TimeSpan LoadStatisticsPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a silo writes "I am alive" to the membership table (Orleans' default: 5 minutes). A silo that missed
    /// two writes counts as stale: it no longer counts among the silos whose votes a death declaration needs, nor
    /// among those a joining silo must reach — with the default, killed workers stayed "fresh" for ten minutes.
    /// </summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Votes that declare a silo dead. Orleans' 2 leaves a coordinator whose workers were all killed alone with one
    /// vote: measured, its round then hung on the dead workers' calls until a joining silo evicted them (up to a
    /// minute). One vote is safe enough here: a failed direct probe is checked through another silo (indirect probe)
    /// where there is one, a silo that finds itself degraded does not vote, and a worker wrongly declared dead only
    /// costs its episodes being dealt to the others.
    /// </summary>
    public int DeathVotes { get; set; } = 1;

    /// <summary>
    /// A worker's call must answer within Base + PerEpisode × episodes, or its episodes go to other workers. This is the
    /// backstop for a hung worker; a dead silo's calls fail sooner, when membership declares it dead.
    /// </summary>
    public TimeSpan WorkerDeadlineBase { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan WorkerDeadlinePerEpisode { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a round with no live worker — none yet, or every one it had lost mid-round — waits for a worker silo
    /// to join before the run fails (a restarted worker pod takes well under a minute to join).
    /// </summary>
    public TimeSpan WorkerWaitTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// θ and partial sums cross processes over the silos' bulk channel (<see cref="Bulk.BulkChannel"/>), the grain calls
    /// carrying tickets, rather than inside the grain messages. Off: every byte goes through Orleans, as before.
    /// </summary>
    public bool BulkTransfer { get; set; } = true;

    /// <summary>The bulk channel's TCP port on the silo's address; 0 = any free port (tickets name the one taken).</summary>
    public int BulkPort { get; set; }

    /// <summary>A bulk fetch that has not completed in this time fails (its call is then redispatched like any failed call).</summary>
    public TimeSpan BulkFetchTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A partial sum nobody fetched (its coordinator died) is dropped after this.</summary>
    public TimeSpan BulkBlobLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often a live run's recovery reminder ticks. A client polling the run reactivates a lost coordinator at once;
    /// the reminder does it when nobody is polling. Orleans warns below one minute.
    /// </summary>
    public TimeSpan RecoveryReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A StackExchange.Redis configuration ("host:port,password=…"): membership, grain storage (the coordinators'
    /// run records) and reminders in Redis — a real multi-process cluster. Null: in memory (embedded and test silos).
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// Where a run's relative data directory (TrainingConfig.DataDir, the CLI's --data) is found on this silo — a mounted
    /// volume on Kubernetes; null = the process's working directory. Absolute paths are used as they are.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>Where a run's relative checkpoint directory is created on this silo; null = the working directory.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>The config as this silo reads its data: a relative DataDir (and mini-ImageNet's SplitCsvDir) under <see cref="DataDirectory"/>.</summary>
    public Core.Training.TrainingConfig Localize(Core.Training.TrainingConfig config) => config with
    {
        DataDir = UnderDataDirectory(config.DataDir),
        SplitCsvDir = UnderDataDirectory(config.SplitCsvDir),
    };

    private string? UnderDataDirectory(string? dir) =>
        dir is not null && DataDirectory is { } root && !Path.IsPathRooted(dir) ? Path.Combine(root, dir) : dir;

    /// <summary>A federated simulation's config as this silo reads its data: a relative DataDir under <see cref="DataDirectory"/>.</summary>
    public Core.Federated.FederatedConfig Localize(Core.Federated.FederatedConfig config) =>
        config.DataDir is { } dir && DataDirectory is { } root && !Path.IsPathRooted(dir) ? config with { DataDir = Path.Combine(root, dir) } : config;

    /// <summary>A run's checkpoint directory on this silo: a relative one under <see cref="CheckpointDirectory"/>.</summary>
    public string? LocalizeCheckpoints(string? directory) =>
        directory is not null && CheckpointDirectory is { } root && !Path.IsPathRooted(directory) ? Path.Combine(root, directory) : directory;

    /// <summary>Start a single-machine cluster on localhost (the CLI's embedded silo); false when the host configures clustering.</summary>
    public bool LocalhostClustering { get; set; }
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The ServiceId and ClusterId of a localhost cluster; a client (metacluster --cluster) must name the same.</summary>
    public string ServiceId { get; set; } = DefaultServiceId;
    public string ClusterId { get; set; } = DefaultClusterId;
    public const string DefaultServiceId = "metacluster", DefaultClusterId = "dev";

    public void Validate()
    {
        if (Worker && Slots < 1) throw new ArgumentException($"a worker silo needs at least one slot (got {Slots}).");
        if (TorchThreads < 0) throw new ArgumentException($"torch threads must be 0 (libtorch's default) or more (got {TorchThreads}).");
        if (ProbeTimeout <= TimeSpan.Zero || NumMissedProbesLimit < 1)
            throw new ArgumentException($"membership probing needs a positive timeout and at least one missed probe (got {ProbeTimeout}, {NumMissedProbesLimit}).");
        if (LoadStatisticsPeriod <= TimeSpan.Zero) throw new ArgumentException($"the load statistics period must be positive (got {LoadStatisticsPeriod}).");
        if (RecoveryReminderPeriod <= TimeSpan.Zero) throw new ArgumentException($"the recovery reminder period must be positive (got {RecoveryReminderPeriod}).");
        if (LocalhostClustering && Redis is not null) throw new ArgumentException("a silo uses either localhost clustering or Redis, not both.");
        if (SimulateEpisode < TimeSpan.Zero) throw new ArgumentException($"the simulated episode time must be 0 or more (got {SimulateEpisode.Value.TotalMilliseconds} ms).");
        if (BulkPort is < 0 or > 65535) throw new ArgumentException($"the bulk channel's port must be 0 (any free port) to 65535 (got {BulkPort}).");
        if (BulkFetchTimeout <= TimeSpan.Zero || BulkBlobLifetime <= TimeSpan.Zero) throw new ArgumentException("the bulk channel's fetch timeout and blob lifetime must be positive.");
        if (WorkerWaitTimeout < TimeSpan.Zero) throw new ArgumentException($"the worker wait must be 0 or more (got {WorkerWaitTimeout}).");
        if (WorkerDeadlineBase <= TimeSpan.Zero || WorkerDeadlinePerEpisode < TimeSpan.Zero)
            throw new ArgumentException("worker deadlines must be positive.");
    }
}
