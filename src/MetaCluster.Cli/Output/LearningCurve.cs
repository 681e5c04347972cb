using System.Text.Json.Nodes;
using MetaCluster.Core.Federated;

namespace MetaCluster.Cli.Output;

/// <summary>
/// <c>--curve FILE</c>: one flat JSON line per evaluation point — the new clients' score after adapting θ on each
/// client's support set (fine-tuning, for FedAvg as for the meta-learners) at a given round — so one generic plotter
/// draws every algorithm's curve from one JSONL: round, algorithm, mean, ci95, p10, bytes_per_round.
/// </summary>
public static class LearningCurve
{
    /// <param name="kind">"curve" for a point during training, "final" for the end of a run, "evaluate" for a checkpoint scored afterwards.</param>
    /// <param name="bytesPerRound">Mean traffic a round so far; null for a centralized run or before the first round.</param>
    /// <param name="source">"federated" or "centralized" (a train checkpoint scored on the same new clients).</param>
    public static JsonObject Point(string kind, string source, long round, string algorithm, FederatedConfig config, NewClientReport report, double? bytesPerRound, long episodesTrained) => new()
    {
        ["kind"] = kind,
        ["source"] = source,
        ["round"] = round,
        ["algorithm"] = algorithm,
        ["dataset"] = config.Dataset,
        ["partition"] = config.Partition,
        ["seed"] = config.Seed,
        ["metric"] = report.Classification ? "accuracy" : "mse",
        ["mean"] = JsonReport.Number(report.Score?.Mean),
        ["ci95"] = JsonReport.Number(report.Score?.Ci95),
        ["p10"] = JsonReport.Number(report.P10),
        ["fine_tune_steps"] = report.Steps,
        ["clients"] = report.Clients,
        ["episodes_per_client"] = report.EpisodesPerClient,
        ["diverged"] = report.Diverged,
        ["bytes_per_round"] = bytesPerRound is { } b ? Math.Round(b) : null,
        // The common budget axis: local episodes behind θ (federated: clients × local episodes summed over rounds;
        // centralized: iterations × meta-batch).
        ["episodes_trained"] = episodesTrained,
    };
}
