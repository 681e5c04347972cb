using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

/// <summary>The federated round loop: exact weighted aggregation, drops and re-samples, replay, resume, screening.</summary>
public sealed class FederatedTrainerTests
{
    private static FederatedConfig Config(string algorithm = "fedavg") => FederatedConfig.ForAlgorithm("sinusoid", algorithm) with
    {
        Clients = 20, EvalClients = 0.2, ClientsPerRound = 4, Rounds = 6, LocalEpisodes = 2, LocalSteps = 2, Seed = 9,
    };

    private static (FederatedTrainer Trainer, SimulatedClients Clients) Build(FederatedConfig config, Func<IClientUpdateProvider, IClientUpdateProvider>? wrap = null, FederatedCheckpoint? resume = null)
    {
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        var clients = new SimulatedClients(FederatedClients.Cached(algorithm, federation), config);
        return (new FederatedTrainer(algorithm, federation.TrainingIds, wrap?.Invoke(clients) ?? clients, resume), clients);
    }

    private static FederatedTrainer Run(FederatedConfig config, Func<IClientUpdateProvider, IClientUpdateProvider>? wrap = null)
    {
        var (trainer, _) = Build(config, wrap);
        while (!trainer.Finished) trainer.RunRound();
        return trainer;
    }

    /// <summary>Hands a round's updates back in a random order (not seeded: the order must not matter).</summary>
    private sealed class Shuffled(IClientUpdateProvider inner) : IClientUpdateProvider
    {
        public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
        {
            var outcome = await inner.CollectAsync(work, cancellationToken);
            return outcome with { Updates = outcome.Updates.OrderBy(_ => Random.Shared.Next()).ToArray() };
        }
    }

    /// <summary>Drops clients at random, unseeded — like a real network — and says they were late.</summary>
    private sealed class Flaky(IClientUpdateProvider inner, double rate) : IClientUpdateProvider
    {
        public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
        {
            var lost = work.Participants.Where(_ => Random.Shared.NextDouble() < rate).ToHashSet();
            var outcome = await inner.CollectAsync(work with { Participants = work.Participants.Where(p => !lost.Contains(p)).ToArray() }, cancellationToken);
            return outcome with { Dropped = [.. outcome.Dropped, .. lost.Select(id => new DroppedClient(id, DropReason.Late, "lost"))] };
        }
    }

    [Fact]
    public void ExactWeightedMean_IsTheSameBitsInAnyOrderAndMatchesTheDoubleWeightedMean()
    {
        var rng = new Episodes.DeterministicRandom(4);
        int n = 257;
        var updates = Enumerable.Range(0, 12).Select(_ => (Values: Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(6) - 5))).ToArray(),
            Weight: 1L + rng.NextInt(1 << 18))).ToArray();
        float[] Mean(IEnumerable<(float[] Values, long Weight)> order)
        {
            var sum = new ExactSum(n);
            foreach (var (values, weight) in order) sum.AddWeighted(values, weight);
            return sum.Mean();
        }
        var reference = Mean(updates);
        for (int trial = 0; trial < 5; trial++)
            Assert.Equal(reference, Mean(updates.OrderBy(_ => Random.Shared.Next())));
        double totalWeight = updates.Sum(u => (double)u.Weight);
        for (int i = 0; i < n; i++)
        {
            double exact = updates.Sum(u => (double)u.Values[i] * u.Weight) / totalWeight;
            Assert.True(Math.Abs(reference[i] - exact) <= 1e-6 * Math.Abs(exact) + 1e-11, $"parameter {i}: {reference[i]} vs {exact}");
        }
        // Weight 1 is plain Add; weights past 2^29 and products past the fixed-point range are errors.
        var plain = new ExactSum(n);
        plain.Add(updates[0].Values);
        var one = new ExactSum(n);
        one.AddWeighted(updates[0].Values, 1);
        Assert.Equal(plain.Mean(), one.Mean());
        Assert.Throws<ArgumentOutOfRangeException>(() => one.AddWeighted(updates[0].Values, ExactSum.MaxWeight));
        Assert.Throws<OverflowException>(() => one.AddWeighted(Enumerable.Repeat(100f, n).ToArray(), 1 << 20));
    }

    [Fact]
    public void ArrivalOrderOfUpdates_NeverChangesTheta()
    {
        var config = Config() with { Weighting = "examples" };
        string ordered = Run(config).Theta.Sha256();
        Assert.Equal(ordered, Run(config, c => new Shuffled(c)).Theta.Sha256());
        Assert.NotEqual(ordered, Run(config with { Seed = 10 }).Theta.Sha256());
    }

    [Fact]
    public void DroppedClientsAndResamples_AreSeededAndReported()
    {
        var config = Config() with { FailureRate = 0.4, MinCompletion = 0.75, MaxAttempts = 20 };
        var a = Run(config);
        var b = Run(config);
        Assert.Equal(a.Theta.Sha256(), b.Theta.Sha256());
        Assert.Equal(Describe(a.Participation), Describe(b.Participation));
        Assert.Contains(a.Participation, r => !r.Accepted);                       // some round was re-sampled
        Assert.Contains(a.Participation, r => r.Accepted && r.Dropped.Length > 0); // and some went ahead without a client
        Assert.All(a.Participation, r => Assert.Equal(r.Accepted, r.Completed.Length >= 3));
        Assert.All(a.Participation.SelectMany(r => r.Dropped), d => Assert.Equal(DropReason.Failed, d.Reason));
        Assert.Equal(6, a.Participation.Count(r => r.Accepted));

        // Too few answers in every sample: the run stops with an error that says what to change.
        var (trainer, _) = Build(Config() with { FailureRate = 0.9, MinCompletion = 1, MaxAttempts = 2 });
        var error = Assert.Throws<FederatedRoundException>(() => trainer.RunRound());
        Assert.Contains("--min-completion", error.Message);
    }

    private static string[] Describe(IEnumerable<ParticipationRecord> log) =>
        log.Select(r => $"{r.Round}/{r.Attempt}: {string.Join(",", r.Sampled)} | {string.Join(",", r.Completed)} | {string.Join(",", r.Dropped.Select(d => d.ClientId + ":" + d.Reason))} | {r.Accepted}").ToArray();

    [Fact]
    public void ReplayOfTheParticipationLog_GivesTheSameThetaBitsAsARunWithRandomDrops()
    {
        var config = Config() with { MinCompletion = 0.5, MaxAttempts = 50, Rounds = 8 };
        var flaky = Run(config, c => new Flaky(c, 0.35));
        Assert.Contains(flaky.Participation, r => r.Dropped.Length > 0);
        var checkpoint = FederatedCheckpoint.FromBytes(flaky.ToCheckpoint().ToBytes());

        var replay = Run(config, c => new ReplayedParticipation(c, checkpoint.Participation));
        Assert.Equal(flaky.Theta.Sha256(), replay.Theta.Sha256());
        Assert.Equal(Describe(flaky.Participation), Describe(replay.Participation));
        // The drops did change θ: without them the run ends elsewhere.
        Assert.NotEqual(flaky.Theta.Sha256(), Run(config).Theta.Sha256());
    }

    [Fact]
    public void ResumedFromACheckpoint_EndsWithTheStraightRunsBits()
    {
        var config = Config("fedmeta-fomaml") with { FailureRate = 0.2, Rounds = 6 };
        var straight = Run(config);
        var (first, _) = Build(config with { Rounds = 3 });
        double seconds = 0;
        while (!first.Finished) seconds += first.RunRound().Seconds;
        Assert.True(seconds > 0);
        Assert.Equal(seconds, first.TrainingSeconds);
        var saved = FederatedCheckpoint.FromBytes(first.ToCheckpoint().ToBytes());
        Assert.Equal(3, saved.Round);
        Assert.Equal("adam", saved.Optimizer.Optimizer);
        var (resumed, _) = Build(config, resume: saved);
        Assert.Equal(seconds, saved.TrainingSeconds);
        while (!resumed.Finished) seconds += resumed.RunRound().Seconds; // each resume adds its own rounds' time
        Assert.Equal(straight.Theta.Sha256(), resumed.Theta.Sha256());
        Assert.Equal(Describe(straight.Participation), Describe(resumed.Participation));
        Assert.Equal(seconds, FederatedCheckpoint.FromBytes(resumed.ToCheckpoint().ToBytes()).TrainingSeconds);
        var (untimed, _) = Build(config, resume: saved with { TrainingSeconds = null }); // a checkpoint from before they were kept
        untimed.RunRound();
        Assert.Null(untimed.ToCheckpoint().TrainingSeconds);

        var bytes = first.ToCheckpoint().ToBytes();
        bytes[^40] ^= 1;
        Assert.Throws<CheckpointException>(() => FederatedCheckpoint.FromBytes(bytes));
    }

    /// <summary>Answers for every sampled client, spoiling some answers.</summary>
    private sealed class Spoiling(IClientUpdateProvider inner) : IClientUpdateProvider
    {
        public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
        {
            var outcome = await inner.CollectAsync(work, cancellationToken);
            var updates = outcome.Updates.ToList();
            updates[0] = updates[0] with { Values = updates[0].Values.Select(_ => float.NaN).ToArray() };
            updates[1] = updates[1] with { Values = updates[1].Values[1..] };
            updates.Add(updates[2]); // a duplicate
            updates.Add(updates[3] with { ClientId = "stranger" });
            return outcome with { Updates = updates };
        }
    }

    [Fact]
    public void BadUpdates_AreRefusedAndCountedNotAggregated()
    {
        var config = Config() with { ClientsPerRound = 5, MinCompletion = 0.2, Rounds = 1 };
        var (trainer, _) = Build(config, c => new Spoiling(c));
        var report = trainer.RunRound();
        Assert.Equal(3, report.Dropped[DropReason.Refused]);
        Assert.Equal(2, report.Participants.Count);
        Assert.Equal(5, report.Sampled);
        int n = trainer.Theta.Layout.TotalCount;
        Assert.Equal(5L * 4 * n, report.BytesDown);
        Assert.Equal(7L * 4 * n - 4, report.BytesUp); // every answer that arrived, the short one a parameter short
        var record = trainer.Participation.Single();
        Assert.Contains(record.Dropped, d => d.Detail.Contains("non-finite"));
        Assert.Contains(record.Dropped, d => d.Detail.Contains("second update"));
        Assert.All(trainer.Theta.Values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Config_RoundTripsThroughJsonAndBadValuesAreNamed()
    {
        var config = FederatedConfig.ForAlgorithm("omniglot", "perfedavg-hf") with { DataDir = "/data/omniglot", Alpha = 0.3, Hidden = [8, 8] };
        var back = FederatedConfig.FromJson(config.ToJson());
        Assert.Equal(config.ToJson(), back.ToJson());
        Assert.Contains("\"clients_per_round\":8", config.ToJson());
        Assert.Contains("--min-completion", Assert.Throws<ArgumentException>(() => (config with { MinCompletion = 0 }).Validate()).Message);
        Assert.Contains("--partition", Assert.Throws<ArgumentException>(() => (config with { Partition = "range" }).Validate()).Message);
        Assert.Contains("not valid JSON", Assert.Throws<ArgumentException>(() => FederatedConfig.FromJson("{")).Message);
        Assert.Contains("fedprox", Assert.Throws<ArgumentException>(() => FederatedConfig.ForAlgorithm("sinusoid", "fedprox")).Message);
    }

    [Fact]
    public void CreateTrainer_FromConfigJson_ComputesWhatTheSimulatedClientComputes()
    {
        var config = Config("fedmeta-maml");
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        var theta = algorithm.InitialParameters();
        string id = federation.TrainingIds[3];
        var simulated = new FederatedClientTrainer(algorithm, federation.Client(id)).Compute(theta, 2);
        var real = FederatedClients.CreateTrainer(config.ToJson(), id, dataDir: null).Compute(theta, 2);
        Assert.Equal(simulated.Values, real.Values);
        Assert.Equal(simulated.Weight, real.Weight);
        Assert.Contains("without a data folder", Assert.Throws<ArgumentException>(() => FederatedClients.CreateTrainer(config.ToJson(), id, "/tmp")).Message);
    }
}
