using System.Diagnostics;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Federated;

/// <summary>
/// The federated round loop over any <see cref="IClientUpdateProvider"/> (simulated clients, worker slots, real
/// clients behind the gateway). A round samples <c>ClientsPerRound</c> of the training clients, seeded by (seed,
/// round, attempt); sends θ with a deadline; screens the answers (shape, finiteness, weight, round, duplicates);
/// and when at least <c>MinCompletion</c> of the sampled clients answered, takes the exact weighted mean of their
/// updates — an <see cref="ExactSum"/>, so arrival order never changes a bit — and one server-optimizer step.
/// Below the minimum the round is re-sampled (attempt + 1), at most <c>MaxAttempts</c> times. Every sample's
/// participants are logged (<see cref="Participation"/>, saved in the checkpoint), so a run is replayable.
/// </summary>
public sealed class FederatedTrainer
{
    private readonly FederatedConfig _config;
    private readonly FederatedAlgorithm _algorithm;
    private readonly IReadOnlyList<string> _clients;
    private readonly IClientUpdateProvider _provider;
    private readonly IOuterOptimizer _optimizer;
    private readonly List<ParticipationRecord> _participation = [];

    public FederatedTrainer(FederatedAlgorithm algorithm, IReadOnlyList<string> clients, IClientUpdateProvider provider, FederatedCheckpoint? resume = null)
    {
        if (clients.Count == 0) throw new ArgumentException("a federated run needs at least one training client.");
        (_config, _algorithm, _provider) = (algorithm.Config, algorithm, provider);
        _clients = clients.Order(StringComparer.Ordinal).ToArray();
        _optimizer = OuterOptimizers.Create(_config.ServerOptimizer, algorithm.Layout.TotalCount);
        if (resume is null)
        {
            Theta = algorithm.InitialParameters();
            TrainingSeconds = 0;
            return;
        }
        if (!resume.Theta.Layout.SameAs(algorithm.Layout))
            throw new CheckpointException($"the checkpoint holds parameters {resume.Theta.Layout.Describe()}, but {algorithm.Name} on {algorithm.Model.Name} needs {algorithm.Layout.Describe()}; resume with the checkpoint's own settings.");
        Theta = resume.Theta.Clone();
        _optimizer.SetState(resume.Optimizer);
        Round = resume.Round;
        _participation.AddRange(resume.Participation);
        TrainingSeconds = resume.TrainingSeconds;
    }

    public ParameterSet Theta { get; }
    public long Round { get; private set; }
    public bool Finished => Round >= _config.Rounds;
    public IReadOnlyList<ParticipationRecord> Participation => _participation;

    /// <summary>Wall seconds of the rounds that made <see cref="Theta"/>, a resumed checkpoint's included (as <see cref="MetaTrainer.TrainingSeconds"/>).</summary>
    public double? TrainingSeconds { get; private set; }

    public bool CheckpointDue => Round >= _config.Rounds || (_config.CheckpointEvery > 0 && Round % _config.CheckpointEvery == 0);

    /// <summary>The clients sampled for (round, attempt): a seeded draw without replacement, in id order.</summary>
    public static string[] SampleParticipants(ulong seed, long round, int attempt, IReadOnlyList<string> clients, int count)
    {
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, ClientSeeds.SamplingStream, round, attempt));
        return rng.SampleWithoutReplacement(clients.Count, Math.Min(count, clients.Count)).Select(i => clients[i]).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>How many of <paramref name="sampled"/> clients must answer: ⌈MinCompletion·sampled⌉, at least one.</summary>
    public int Required(int sampled) => Math.Max(1, (int)Math.Ceiling(_config.MinCompletion * sampled - 1e-9));

    /// <summary>One round on a provider that answers synchronously (<see cref="SimulatedClients"/>); never blocks on pending work.</summary>
    public FederatedRoundReport RunRound()
    {
        var pending = RunRoundAsync();
        if (!pending.IsCompleted)
            throw new InvalidOperationException("this trainer's updates arrive asynchronously; await RunRoundAsync instead.");
        return pending.GetAwaiter().GetResult();
    }

    public async ValueTask<FederatedRoundReport> RunRoundAsync(CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        long round = Round, thetaBytes = 4L * _algorithm.Layout.TotalCount, bytesDown = 0, bytesUp = 0;
        int sampledTotal = 0;
        var dropped = new Dictionary<DropReason, int> { [DropReason.Late] = 0, [DropReason.Failed] = 0, [DropReason.Refused] = 0 };
        var shortfalls = new List<string>();
        DroppedClient? lastDrop = null; // named in the error, so a cause shared by every client (missing data on a worker) is seen
        for (int attempt = 0; attempt < _config.MaxAttempts; attempt++)
        {
            var sampled = SampleParticipants(_config.Seed, round, attempt, _clients, _config.ClientsPerRound);
            sampledTotal += sampled.Length;
            bytesDown += thetaBytes * sampled.Length;
            var outcome = await _provider.CollectAsync(new FederatedRoundWork(round, attempt, Theta, sampled, _config.Deadline), cancellationToken);
            bytesUp += outcome.Updates.Sum(u => 4L * u.Values.Length);
            var (accepted, drops) = Screen(outcome, sampled, round);
            foreach (var drop in drops) dropped[drop.Reason]++;
            lastDrop = drops.FirstOrDefault() ?? lastDrop;
            bool enough = accepted.Count >= Required(sampled.Length);
            _participation.Add(new ParticipationRecord(round, attempt, sampled, accepted.Select(u => u.ClientId).ToArray(), drops, enough));
            if (!enough)
            {
                shortfalls.Add($"{accepted.Count} of {sampled.Length}");
                continue;
            }
            var (norms, examples) = Step(accepted);
            Round = round + 1;
            double seconds = watch.Elapsed.TotalSeconds;
            TrainingSeconds += seconds;
            double? Mean(Func<ClientMetrics, double?> pick) => accepted.Any(u => pick(u.Metrics) is null) ? null : accepted.Average(u => pick(u.Metrics)!.Value);
            return new FederatedRoundReport(round, attempt + 1, accepted.Select(u => u.ClientId).ToArray(), sampledTotal, dropped, bytesDown, bytesUp, examples,
                Mean(m => m.PreLoss), Mean(m => m.PostLoss)!.Value, Mean(m => m.PreAccuracy), Mean(m => m.PostAccuracy),
                norms.Average(), norms.Max(), _config.ServerLr, seconds);
        }
        throw new FederatedRoundException(
            $"round {round}: too few clients answered in each of {_config.MaxAttempts} samples ({string.Join(", ", shortfalls)}; " +
            $"{Required(Math.Min(_config.ClientsPerRound, _clients.Count))} needed); lower --min-completion, raise --deadline or check the clients" +
            (lastDrop is { } d ? $" (e.g. client {d.ClientId}, {d.Reason.ToString().ToLowerInvariant()}: {d.Detail})." : "."));
    }

    /// <summary>The updates fit to aggregate (in client-id order) and every sampled client left out, with why.</summary>
    private (List<ClientUpdate> Accepted, DroppedClient[] Dropped) Screen(FederatedRoundOutcome outcome, string[] sampled, long round)
    {
        var expected = sampled.ToHashSet(StringComparer.Ordinal);
        var accepted = new Dictionary<string, ClientUpdate>(StringComparer.Ordinal);
        var dropped = new Dictionary<string, DroppedClient>(StringComparer.Ordinal);
        foreach (var drop in outcome.Dropped)
            if (expected.Contains(drop.ClientId)) dropped.TryAdd(drop.ClientId, drop);
        foreach (var update in outcome.Updates)
        {
            if (!expected.Contains(update.ClientId) || dropped.ContainsKey(update.ClientId)) continue; // not asked, or already counted out
            string? problem = Problem(update, round);
            if (problem is null && accepted.ContainsKey(update.ClientId)) problem = "a second update in the same round";
            if (problem is null) accepted[update.ClientId] = update;
            else
            {
                accepted.Remove(update.ClientId);
                dropped[update.ClientId] = new DroppedClient(update.ClientId, DropReason.Refused, problem);
            }
        }
        foreach (string id in sampled)
            if (!accepted.ContainsKey(id) && !dropped.ContainsKey(id)) dropped[id] = new DroppedClient(id, DropReason.Late, "no answer");
        return (accepted.Values.OrderBy(u => u.ClientId, StringComparer.Ordinal).ToList(),
                dropped.Values.OrderBy(d => d.ClientId, StringComparer.Ordinal).ToArray());
    }

    private string? Problem(ClientUpdate update, long round)
    {
        if (update.Round != round) return $"an update for round {update.Round} in round {round}";
        if (update.Values.Length != _algorithm.Layout.TotalCount) return $"{update.Values.Length} values where θ has {_algorithm.Layout.TotalCount}";
        if (update.Weight < 1 || update.Weight >= ExactSum.MaxWeight) return $"weight {update.Weight} outside [1, 2^29)";
        long weight = WeightOf(update);
        foreach (float v in update.Values)
            if (!(Math.Abs((double)v * weight) < ExactSum.MaxMagnitude)) return float.IsFinite(v) ? $"value {v} too large to aggregate" : "non-finite values";
        return null;
    }

    private long WeightOf(ClientUpdate update) => _config.Weighting == "uniform" ? 1 : update.Weight;

    /// <summary>The exact weighted mean of the accepted updates and the server step; returns the update norms and the examples behind them.</summary>
    private (double[] Norms, long Examples) Step(List<ClientUpdate> accepted)
    {
        var sum = new ExactSum(_algorithm.Layout.TotalCount);
        foreach (var update in accepted) sum.AddWeighted(update.Values, WeightOf(update), $"client {update.ClientId}'s update");
        var mean = sum.Mean();
        if (_algorithm.Kind == ContributionKind.Delta)
            for (int i = 0; i < mean.Length; i++) mean[i] = -mean[i]; // a delta points where θ should go
        _optimizer.Step(Theta.Values, mean, _config.ServerLr);
        var norms = accepted.Select(u => Math.Sqrt(u.Values.Sum(v => (double)v * v))).ToArray();
        return (norms, accepted.Sum(u => u.Weight));
    }

    public FederatedCheckpoint ToCheckpoint() => new(_config, Round, Theta.Clone(), _optimizer.GetState(), _participation.ToArray(), TrainingSeconds);
}
