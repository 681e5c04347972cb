using System.CommandLine;
using MetaCluster.Cli.Cluster;

namespace MetaCluster.Cli.Options;

/// <summary>
/// <c>bench --scale</c>: one point of the scaling sweep against a running cluster of simulated GPU workers
/// (metacluster-server --simulate-episode-ms D), and <c>bench --scale-plot</c>: the efficiency chart of the sweep's lines.
/// bench/scale.sh drives both.
/// </summary>
public sealed class ScaleOptions
{
    public Option<bool> Scale { get; } = new("--scale")
    {
        Description = "instead of training in this process, time rounds on the cluster --cluster names (workers started with --simulate-episode-ms) " +
                      "and print one JSON line: round time against the ideal meta-batch × episode-ms / workers (see bench/scale.sh)",
        Arity = ArgumentArity.Zero,
    };
    public Option<double?> EpisodeMs { get; } = new("--episode-ms")
    {
        Description = "with --scale: the workers' --simulate-episode-ms, for the ideal round time", HelpName = "D",
    };
    public Option<string> Label { get; } = new("--scale-label")
    {
        Description = "with --scale: what the point belongs to, copied into the JSON line (e.g. strong, weak)", HelpName = "TEXT",
        DefaultValueFactory = _ => "strong",
    };
    public Option<int> Warmup { get; } = new("--scale-warmup")
    {
        Description = "with --scale: first rounds left out of the median (workers build the run in round 0)", HelpName = "N",
        DefaultValueFactory = _ => 3,
    };
    public Option<bool> PerSilo { get; } = new("--per-silo")
    {
        Description = "with --scale: per-silo dispatch (θ once to each worker silo, one partial sum back from its hub)",
        Arity = ArgumentArity.Zero,
    };
    public Option<int> HubGroup { get; } = new("--hub-group")
    {
        Description = "with --scale and --per-silo: hubs in groups of N, one hub of each answering the coordinator for its group (default 1: none)",
        HelpName = "N", DefaultValueFactory = _ => 1,
    };
    public Option<string> Plot { get; } = new("--scale-plot")
    {
        Description = "draw the efficiency against workers of the --scale JSON lines in FILE (one line per model and scaling) into --scale-png",
        HelpName = "FILE",
    };
    public Option<string> Png { get; } = new("--scale-png")
    {
        Description = "with --scale-plot: the PNG to write (default: FILE with .png)", HelpName = "PATH",
    };
    public ClusterConnectionOptions Cluster { get; } = new("with --scale: the cluster of simulated workers (redis://HOST:PORT)");

    public void AddTo(Command command)
    {
        command.Add(Scale);
        command.Add(EpisodeMs);
        command.Add(Label);
        command.Add(Warmup);
        command.Add(PerSilo);
        command.Add(HubGroup);
        command.Add(Plot);
        command.Add(Png);
        Cluster.AddTo(command);
    }

    /// <summary>Scale options given without --scale or --scale-plot: named in the error.</summary>
    public IEnumerable<string> GivenAlone(ParseResult result) =>
        result.GetValue(Scale) || result.GetValue(Plot) is not null ? []
        : new Option[] { EpisodeMs, Label, Warmup, PerSilo, HubGroup, Png, Cluster.Cluster, Cluster.ClusterId, Cluster.ServiceId }
            .Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name);
}
