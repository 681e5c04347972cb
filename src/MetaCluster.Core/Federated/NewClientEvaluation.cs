using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Federated;

/// <summary>
/// Personalization on new clients: mean ± 95 % CI over clients × episodes after adapting θ on each episode's support
/// set, the 10th-percentile client (by its mean score: accuracy for classification, and for regression the loss
/// that 10 % of clients do worse than — so p10 is always the weak tail), and how many episodes diverged.
/// <see cref="Score"/> is accuracy for classification, loss (MSE) for regression.
/// </summary>
public sealed record NewClientReport(int Clients, int EpisodesPerClient, int Steps, MeanCi? Loss, MeanCi? Accuracy, double? P10, int Diverged)
{
    public bool Classification => Accuracy is not null;
    public MeanCi? Score => Accuracy ?? Loss;
}

public static class NewClientEvaluation
{
    /// <summary>The seed of evaluation episodes unless told otherwise: fixed, so runs are compared on the same tasks.</summary>
    public const ulong DefaultSeed = 0xE7A1;

    public static NewClientReport Evaluate(FederatedAlgorithm algorithm, ParameterSet theta, IReadOnlyList<FederatedClientData> clients,
        int episodesPerClient, int steps, ulong evalSeed = DefaultSeed)
    {
        if (clients.Count == 0) throw new ArgumentException("the federation has no new clients to evaluate on; raise --eval-clients.");
        if (episodesPerClient < 1) throw new ArgumentException($"evaluation needs at least one episode per client (got {episodesPerClient}).");
        var spec = algorithm.Spec;
        var scores = new List<EpisodeScore>();
        var perClient = new List<double>();
        bool classification = false;
        foreach (var client in clients)
        {
            ulong seed = ClientSeeds.ForEvaluation(evalSeed, client.Id);
            var mine = new List<EpisodeScore>();
            for (long e = 0; e < episodesPerClient; e++)
            {
                using var episode = client.Source.Sample(spec, e, DeterministicRandom.DeriveSeed(seed, e));
                classification = episode.Kind == TaskKind.Classification;
                var (loss, accuracy) = algorithm.Personalizer.Evaluate(theta, episode, steps, BatchNormMode.Transductive);
                mine.Add(new EpisodeScore(loss, accuracy));
            }
            scores.AddRange(mine);
            var finite = mine.Where(s => !s.Diverged).ToArray();
            if (finite.Length > 0) perClient.Add(classification ? finite.Average(s => s.Accuracy!.Value) : finite.Average(s => s.Loss));
        }
        var report = Evaluator.Summarize(scores, steps, BatchNormMode.Transductive);
        double? p10 = perClient.Count == 0 ? null : Percentile(perClient, classification ? 0.10 : 0.90);
        return new NewClientReport(clients.Count, episodesPerClient, steps, report.Loss, report.Accuracy, p10, report.Diverged);
    }

    /// <summary>The nearest-rank percentile (q in (0, 1]) of the values.</summary>
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        int rank = Math.Clamp((int)Math.Ceiling(q * sorted.Length), 1, sorted.Length);
        return sorted[rank - 1];
    }
}
