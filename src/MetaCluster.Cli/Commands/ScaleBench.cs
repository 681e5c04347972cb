using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Output;
using MetaCluster.Contracts;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains;
using MetaCluster.Grains.Coordinator;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster bench --scale</c>: one point of a scaling sweep. Trains on a running cluster whose workers stand in
/// for GPUs (<c>metacluster-server --simulate-episode-ms D</c>: D ms of sleep per episode, real-sized contributions) and
/// compares the median round time with the ideal meta-batch × D / workers; efficiency = ideal / measured. The model is
/// a sinusoid MLP sized by --hidden (334,334: 112,893 parameters, a 5-way Conv4's size; 1048,1048: 1.1M), since only θ's
/// size matters to the coordinator and the wire. <c>--scale-plot</c> draws efficiency against workers from the lines.
/// </summary>
public static class ScaleBench
{
    public static async Task<JsonObject> RunPointAsync(ClusterHost cluster, TrainingConfig config, double episodeMs, string label, int warmup, bool perSilo = false,
        int hubGroup = 1)
    {
        if (hubGroup < 1) throw new ArgumentException($"--hub-group must be 1 or more (got {hubGroup}).");
        if (hubGroup > 1 && !perSilo) throw new ArgumentException("--hub-group groups the silos' hubs: it needs --per-silo.");
        if (episodeMs <= 0) throw new ArgumentException($"--scale needs --episode-ms, the workers' --simulate-episode-ms (got {episodeMs}).");
        if (warmup < 0 || warmup >= config.Iterations)
            throw new ArgumentException($"--scale-warmup must be 0 or more and below --iterations ({config.Iterations}; got {warmup}).");
        config = config with { CheckpointEvery = 0, PreAdaptationMetrics = false };
        var client = new ClusterTrainingClient(cluster.Grains);
        string runId = $"scale-{Guid.NewGuid():N}";
        var watch = Stopwatch.StartNew();
        var result = await client.TrainAsync(runId, config, new ClusterRunOptions(PerSiloDispatch: perSilo, HubGroup: hubGroup), new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(250) });
        double wall = watch.Elapsed.TotalSeconds;
        var rounds = await client.GetRoundsAsync(runId, 0);
        var timed = rounds.Where(r => r.Round >= warmup).Select(r => r.Seconds).Order().ToArray();
        var split = RoundSplit.Medians(rounds.Where(r => r.Round >= warmup));
        int workers = result.Status.LiveWorkers;
        int parameters = new Mlp([1, .. config.Hidden, 1]).Layout.TotalCount;
        // Each call: θ down as float32, one exact partial sum up (its bytes as the coordinator counted them: the wire
        // form's width follows the values). A worker's share goes in calls of at most EpisodesPerCall episodes (Orleans'
        // default 100 MiB body), so a big model on few workers takes several.
        int perCall = MessageSizeGuard.EpisodesPerCall(parameters, 100 * 1024 * 1024);
        // Per-silo dispatch: one call per silo (its hub's reply is one sum, whatever the share), or per group of silos.
        int silos = result.Status.ContributingSilos.Length;
        long calls = perSilo ? (silos + hubGroup - 1) / hubGroup : Enumerable.Range(0, Math.Max(1, workers))
            .Sum(w => (long)Math.Ceiling((config.MetaBatch / Math.Max(1, workers) + (w < config.MetaBatch % Math.Max(1, workers) ? 1 : 0)) / (double)perCall));
        double received = MeanContributionBytes(rounds.Where(r => r.Round >= warmup));
        long bytesPerRound = calls * 4L * parameters + (long)Math.Round(received);
        double median = RoundSplit.Median(timed);
        // Workers compute whole episodes: the ideal round is the busiest worker's share.
        // (With per-silo dispatch a hub deals its silo's share round-robin over the slots: the same busiest share when
        // silos have equal slots and the meta-batch divides evenly, as in bench/scale.sh.)
        double ideal = Math.Ceiling((double)config.MetaBatch / Math.Max(1, workers)) * episodeMs / 1000;
        return new JsonObject
        {
            ["bench"] = "scale",
            ["scaling"] = label,
            ["workers"] = workers,
            ["dispatch"] = perSilo ? "silo" : "slot",
            ["hub_group"] = hubGroup,
            ["silos"] = silos,
            ["meta_batch"] = config.MetaBatch,
            ["parameters"] = parameters,
            ["episode_ms"] = episodeMs,
            ["rounds_timed"] = timed.Length,
            ["round_seconds_median"] = JsonReport.Number(JsonReport.Round(median, 4)),
            ["round_seconds_min"] = JsonReport.Number(JsonReport.Round(timed.DefaultIfEmpty(double.NaN).Min(), 4)),
            ["ideal_seconds"] = Math.Round(ideal, 4),
            ["efficiency"] = JsonReport.Number(JsonReport.Round(ideal / median, 3)),
            // Where a round went (medians): the coordinator's own time, the wait before the last reply's call was sent
            // (its worker's earlier shares, a redispatch), that call outside its callee (the wire, serialization and
            // queues, θ down and the sum up), and inside it.
            ["coordinator_seconds_median"] = JsonReport.Number(JsonReport.Round(split.Coordinator, 4)),
            ["waiting_seconds_median"] = JsonReport.Number(JsonReport.Round(split.Waiting, 4)),
            ["last_reply_outside_seconds_median"] = JsonReport.Number(JsonReport.Round(split.Outside, 4)),
            ["last_reply_worker_seconds_median"] = JsonReport.Number(JsonReport.Round(split.Worker, 4)),
            ["calls_per_round"] = calls,
            ["bytes_per_round"] = bytesPerRound,
            ["contribution_bytes_per_round"] = Math.Round(received),
            ["wall_seconds"] = Math.Round(wall, 2),
            ["theta_sha256"] = result.Theta.Sha256,
            ["load_avg_1m"] = LoadAverage(),
            ["engine"] = "metacluster",
        };
    }

    /// <summary>The bytes of contributions the coordinator counted a round, on average over <paramref name="rounds"/> (0 for none).</summary>
    internal static double MeanContributionBytes(IEnumerable<RoundMetrics> rounds) =>
        rounds.Select(r => (double)r.ContributionBytes).DefaultIfEmpty(0).Average();

    /// <summary>Efficiency against workers, one line per (parameters, scaling) of the JSON lines in <paramref name="jsonl"/>.</summary>
    public static string Plot(string jsonl, string? png)
    {
        if (!File.Exists(jsonl)) throw new ArgumentException($"--scale-plot: no file '{jsonl}' (write it with bench/scale.sh or bench --scale).");
        var points = File.ReadLines(jsonl).Where(l => l.TrimStart().StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(o => (string?)o["bench"] == "scale" && o["efficiency"]?.GetValueKind() == System.Text.Json.JsonValueKind.Number).ToArray();
        if (points.Length == 0) throw new ArgumentException($"--scale-plot: '{jsonl}' holds no bench --scale lines with an efficiency.");
        var series = points
            .GroupBy(p => ((int)p["parameters"]!, (string)p["scaling"]!, ((string?)p["dispatch"] ?? "slot") + ((int?)p["hub_group"] is > 1 and var g ? $"/{g}" : "")))
            .OrderBy(g => g.Key.Item1).ThenBy(g => g.Key.Item2, StringComparer.Ordinal).ThenBy(g => g.Key.Item3, StringComparer.Ordinal)
            .Select(g =>
            {
                // The last line of a worker count counts (a re-run replaces an earlier one).
                var byWorkers = g.GroupBy(p => (int)p["workers"]!).Select(w => w.Last()).OrderBy(p => (int)p["workers"]!).ToArray();
                string size = g.Key.Item1 >= 1_000_000 ? $"{g.Key.Item1 / 1e6:0.0#}M" : g.Key.Item1 >= 1_000 ? $"{g.Key.Item1 / 1e3:0}k" : $"{g.Key.Item1}";
                // Slots a silo, from the lines (workers ÷ silos), so the legend says what a "worker" was.
                var head = byWorkers[0];
                int perSilo = (int?)head["silos"] is > 0 and var silos ? (int)head["workers"]! / silos : 1;
                string dispatch = (g.Key.Item3.StartsWith("silo") ? ", θ per silo" : ", θ per slot") + $", {perSilo} slot{(perSilo == 1 ? "" : "s")} a process"
                    + ((int?)head["hub_group"] is > 1 and var group ? $", hubs in groups of {group}" : "");
                return new PlotSeries($"{size} parameters, {g.Key.Item2}{dispatch}", byWorkers.Select(p => (double)(int)p["workers"]!).ToArray(),
                    byWorkers.Select(p => 100 * (double)p["efficiency"]!).ToArray());
            }).ToList();
        var xs = series.SelectMany(s => s.X).Distinct().Order().ToArray();
        series.Add(new PlotSeries("ideal", xs, xs.Select(_ => 100.0).ToArray(), Reference: true));
        png ??= Path.ChangeExtension(jsonl, ".png");
        if (Path.GetDirectoryName(Path.GetFullPath(png)) is { } dir) Directory.CreateDirectory(dir);
        var first = points[0];
        SweepPlots.UseFonts();
        SweepPlots.Lines(png, $"One coordinator, simulated GPU workers ({first["episode_ms"]} ms an episode)", "workers (GPU slots)", "efficiency (%)",
            series, SweepBench.DefaultWidth, SweepBench.DefaultHeight, logX: true, legend: ScottPlot.Alignment.LowerLeft); // efficiency falls to the right: the lower left stays clear
        return png;
    }

    private static JsonNode? LoadAverage()
    {
        try
        {
            string first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return JsonValue.Create(double.Parse(first, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
