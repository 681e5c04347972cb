using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using static TorchSharp.torch;

namespace MetaCluster.Core.Federated;

/// <summary>A client's local result: its update in θ's layout and its metrics.</summary>
public sealed record LocalResult(float[] Update, ClientMetrics Metrics);

/// <summary>
/// A federated algorithm's client half: what a client computes from θ and its own episodes (a parameter delta or a
/// meta-gradient, <see cref="Kind"/>). The server half is the same for all — the exact weighted mean, negated for a
/// delta, and one step of the server optimizer. <see cref="Personalizer"/> is the meta-algorithm whose
/// <c>Adapt</c> personalises θ to a new client in the evaluation (and defines θ's layout and initial value).
/// </summary>
public abstract class FederatedAlgorithm(FederatedConfig config, IFunctionalModel model, MetaAlgorithm personalizer)
{
    public FederatedConfig Config { get; } = config;
    public IFunctionalModel Model { get; } = model;
    public MetaAlgorithm Personalizer { get; } = personalizer;
    public string Name => Config.Algorithm;
    public abstract ContributionKind Kind { get; }
    public ParameterLayout Layout => Personalizer.Layout;

    /// <summary>θ₀ from the run seed, as the centralised trainer derives it.</summary>
    public ParameterSet InitialParameters() => Personalizer.Initialize(DeterministicRandom.DeriveSeed(Config.Seed, 0));

    public EpisodeSpec Spec => new(Config.Ways, Config.Shots, Config.Queries);

    /// <summary>The client's update from θ over its local episodes, in order.</summary>
    public abstract LocalResult Compute(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample);

    public static FederatedAlgorithm Create(FederatedConfig config)
    {
        config.ValidateSettings();
        IFunctionalModel model = config.Dataset switch
        {
            "sinusoid" => new Mlp([1, .. config.Hidden, 1]),
            _ => new Conv4(config.Ways, headInit: config.HeadInit == "zeros" ? HeadInit.Zeros : HeadInit.Normal),
        };
        var adapt = new AlgorithmOptions { InnerSteps = config.InnerSteps, InnerLearningRate = config.InnerLr };
        return config.Algorithm switch
        {
            "fedavg" or "fedadam" => new LocalSgdUpdate(config, model, new Maml(model, adapt with { FirstOrder = true })),
            "fedreptile" => new FedReptileUpdate(config, model, new Maml(model, adapt with { FirstOrder = true })),
            "fedmeta-maml" => new FedMetaUpdate(config, model, new Maml(model, adapt)),
            "fedmeta-fomaml" => new FedMetaUpdate(config, model, new Maml(model, adapt with { FirstOrder = true })),
            "fedmeta-metasgd" => new FedMetaUpdate(config, model, new MetaSgd(model, adapt)),
            "perfedavg" or "perfedavg-hf" => new PerFedAvgUpdate(config, model, new Maml(model, adapt with { FirstOrder = true })),
            _ => throw new ArgumentException($"unknown federated algorithm '{config.Algorithm}'; use {string.Join(", ", FederatedConfig.Algorithms)}."),
        };
    }

    /// <summary>The mean of per-episode metrics: what a client reports about a round.</summary>
    protected static ClientMetrics Summarize(IReadOnlyList<EpisodeMetrics> episodes)
    {
        double? Mean(Func<EpisodeMetrics, double?> pick) =>
            episodes.Count == 0 || episodes.Any(m => pick(m) is null) ? null : episodes.Average(m => pick(m)!.Value);
        return new ClientMetrics(episodes.Count, Mean(m => m.PreLoss), Mean(m => m.PostLoss) ?? double.NaN, Mean(m => m.PreAccuracy), Mean(m => m.PostAccuracy));
    }

    /// <summary>Query loss and accuracy of the model under <paramref name="parameters"/>, without a graph.</summary>
    protected (double Loss, double? Accuracy) ScoreQuery(IReadOnlyList<Tensor> parameters, Episode episode)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var output = Model.Forward(episode.QueryX, parameters);
        return (TaskLoss.Loss(output, episode.QueryY, episode.Kind).to_type(ScalarType.Float64).item<double>(), TaskLoss.Accuracy(output, episode.QueryY, episode.Kind));
    }

    /// <summary>The exact mean of a meta-algorithm's per-episode contributions (the same bits however they are grouped).</summary>
    protected LocalResult MeanOfContributions(MetaAlgorithm algorithm, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample)
    {
        var sum = new ExactSum(algorithm.Layout.TotalCount);
        var (_, metrics) = PartialSum.Collect(sum, sink => algorithm.Contribute(theta, episodes, sample, sink));
        return new LocalResult(sum.Mean(), Summarize(metrics.Select(m => m.Metrics).ToArray()));
    }

    /// <summary>
    /// Local training from θ over the episodes in turn, one continuous trajectory: <paramref name="steps"/> applications
    /// of <paramref name="step"/> per episode (w ← step(w, episode)); the update is the final w − θ. The weights pass
    /// between episodes as a flat vector, so each episode's tensors are freed with its dispose scope.
    /// </summary>
    protected LocalResult Trajectory(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, int steps,
        Func<IReadOnlyList<Tensor>, Episode, IReadOnlyList<Tensor>> step)
    {
        var current = theta.Span.ToArray();
        var metrics = new List<EpisodeMetrics>(episodes.Count);
        foreach (long index in episodes)
        {
            using var scope = NewDisposeScope();
            using var episode = sample(index);
            IReadOnlyList<Tensor> w = new ParameterSet(Layout, current).ToTensors(requiresGrad: true);
            var before = ScoreQuery(w, episode);
            for (int s = 0; s < steps; s++) w = step(w, episode);
            var after = ScoreQuery(w, episode);
            ParameterSet.FlattenInto(Layout, w, current);
            metrics.Add(new EpisodeMetrics(before.Loss, after.Loss, before.Accuracy, after.Accuracy));
        }
        var start = theta.Span;
        var delta = new float[current.Length];
        for (int i = 0; i < delta.Length; i++) delta[i] = current[i] - start[i];
        return new LocalResult(delta, Summarize(metrics));
    }
}
