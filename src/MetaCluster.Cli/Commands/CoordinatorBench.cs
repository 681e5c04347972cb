using System.Diagnostics;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Cluster;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster bench --coordinator</c>: how many contributions one coordinator grain takes in per second when its
/// workers answer at once (no compute) — the bound on how many GPU workers one coordinator can feed. The model is an
/// MLP of about a 5-way Conv4's size (1-334-334-1: 112,893 parameters), so θ and the contributions are that big.
/// </summary>
public static class CoordinatorBench
{
    public static async Task<JsonObject> RunAsync(int workers, int rounds, int metaBatch, bool perEpisode)
    {
        var config = TrainingConfig.ForDataset("sinusoid", "maml") with
        {
            Hidden = [334, 334], Iterations = rounds, MetaBatch = metaBatch, PreAdaptationMetrics = false,
        };
        await using var host = await ClusterHost.StartEmbeddedAsync(workers, torchThreads: 1, gatewayPort: null,
            services => services.AddSingleton<IContributionSource, InstantContributions>());
        var client = new ClusterTrainingClient(host.Grains);
        string runId = $"coordinator-bench-{Guid.NewGuid():N}";
        var checkpoints = Path.Combine(Path.GetTempPath(), runId);
        try
        {
            var watch = Stopwatch.StartNew();
            var result = await client.TrainAsync(runId, config with { CheckpointEvery = 0 }, new ClusterRunOptions(CheckpointDirectory: checkpoints, PerEpisodeContributions: perEpisode));
            double seconds = watch.Elapsed.TotalSeconds;
            int parameters = new Mlp([1, .. config.Hidden, 1]).Layout.TotalCount;
            // What the workers sent the coordinator each round, as it counted them: float32 per episode, or per share an
            // exact sum's wire form (a header and 1–8 bytes a value, the fewest that hold the share's values).
            long bytesPerRound = (long)Math.Round(ScaleBench.MeanContributionBytes(await client.GetRoundsAsync(runId, 0)));
            return new JsonObject
            {
                ["bench"] = "coordinator",
                ["parameters"] = parameters,
                ["workers"] = workers,
                ["rounds"] = rounds,
                ["meta_batch"] = metaBatch,
                ["seconds"] = Math.Round(seconds, 3),
                ["contributions_per_s"] = Math.Round((double)rounds * metaBatch / seconds, 1),
                ["rounds_per_s"] = Math.Round(rounds / seconds, 2),
                ["wire"] = perEpisode ? "per-episode" : "pre-summed",
                ["contribution_bytes_per_round"] = bytesPerRound,
                ["contribution_bytes_per_s"] = Math.Round((double)rounds * bytesPerRound / seconds),
                ["completed_rounds"] = result.Status.Round,
                ["engine"] = "metacluster",
            };
        }
        finally
        {
            if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        }
    }

    /// <summary>
    /// Zero contributions, returned at once: the worker side costs nothing but messaging. They all share one zero vector
    /// — these workers run in the coordinator's process, and allocating 450 KB per episode here would charge the
    /// coordinator for garbage a real worker makes on its own machine.
    /// </summary>
    private sealed class InstantContributions : IContributionSource
    {
        private float[] _values = [];

        public IReadOnlyList<Contribution> Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample)
        {
            var metrics = new EpisodeMetrics(null, 0, null, null);
            int count = theta.Layout.TotalCount; // not theta.Values: θ over wire bytes would copy them
            // One shared vector of gradient-sized values (not zeros: a sum of zeros would travel in 1 byte a value).
            var values = _values.Length == count ? _values
                : _values = Enumerable.Range(0, count).Select(i => (i % 7 - 3) * (SimulatedContributions.Magnitude / 3)).ToArray();
            return episodes.Select(e => new Contribution(e, values, metrics)).ToArray();
        }

        public void Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, ContributionSink sink)
        {
            foreach (var c in Contribute(run, theta, episodes, sample)) sink(c.EpisodeIndex, c.Values, c.Metrics);
        }
    }
}
