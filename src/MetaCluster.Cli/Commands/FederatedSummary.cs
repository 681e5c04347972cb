using System.Text.Json.Nodes;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Commands;

/// <summary>A federated run's report: a table for people, one JSON object for scripts, with the same fields.</summary>
public sealed record FederatedSummary(
    string Command, FederatedConfig Config, string Federation, int TrainingClients, int NewClients, long Round, bool Completed,
    string ThetaSha256, int Parameters, string CheckpointPath, FederatedParticipation Participation)
{
    public TrainingStats? Stats { get; init; }
    public long UpdatesThisRun { get; init; }
    public NewClientReport? Before { get; init; }
    public NewClientReport? After { get; init; }
    public ulong EvalSeed { get; init; }

    /// <summary>The whole run's training seconds from its checkpoint, every resume included (null when not recorded).</summary>
    public double? TrainingSeconds { get; init; }

    /// <summary>What trained θ when it is not the config's federated algorithm: a centralized train checkpoint scored on the new clients.</summary>
    public string? TrainedBy { get; init; }

    /// <summary>Where the clients were computed: "in process", or the embedded silo or cluster whose worker slots did; null when not a simulation.</summary>
    public string? Engine { get; init; }

    private double UpdatesPerSecond => Stats is { Seconds: > 0 } s ? UpdatesThisRun / s.Seconds : 0;

    public void Render(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Completed ? $"[bold]{Command} finished[/]" : $"[bold yellow]{Command} stopped[/]");
        table.AddColumn("");
        table.AddColumn("");
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("run", $"{Config.Dataset} / {TrainedBy ?? Config.Algorithm}, seed {Config.Seed}, server {Config.ServerOptimizer} lr {Config.ServerLr}, weighting {Config.Weighting}");
        Row("federation", Federation);
        if (Engine is not null) Row("clients computed", Engine);
        Row("rounds", $"{Round} of {Config.Rounds}" + (Stats is { } s ? $" ({s.RoundsThisRun} in this run)" : ""));
        if (Stats is null || Stats.RoundsThisRun < Round) // a resumed run, or a checkpoint scored: the whole run's time
            Row("training time, whole run", TrainingSeconds is { } total ? Format.Seconds(total) : "not recorded in the checkpoint");
        Row("participation", $"{Participation.MeanPerRound:0.##} of {Config.ClientsPerRound} clients a round; dropped {Participation.Late} late, {Participation.Failed} failed, {Participation.Refused} refused; {Participation.ResampledRounds} round(s) re-sampled");
        Row("traffic", $"{Participation.BytesPerRound / 1e6:0.###} MB a round (θ of {Parameters:N0} parameters down, updates up)");
        if (Stats is { } stats)
        {
            Row("seconds", Format.Number(stats.Seconds, "0.00"));
            Row("rounds/s, client updates/s", $"{Format.Number(stats.RoundsPerSecond, "0.00")}, {Format.Number(UpdatesPerSecond, "0.0")}");
            Row("client query loss before → after", $"{Format.Number(stats.MeanPreLoss)} → {Format.Number(stats.MeanPostLoss)} (mean of the last {stats.RecentCount} rounds)");
            if (stats.MeanPostAccuracy is not null) Row("client query accuracy after", Format.Percent(stats.MeanPostAccuracy));
        }
        if (After is { } after)
        {
            Row($"new clients ({after.Clients} × {after.EpisodesPerClient} episodes)", $"{Describe(Before)} from θ without adapting → {Describe(after)} after {after.Steps} steps");
            Row("10th-percentile new client", after.P10 is { } p10 ? (after.Classification ? Format.Percent(p10) : Format.Number(p10)) : "–");
            if (after.Diverged > 0) Row("diverged episodes", after.Diverged.ToString());
        }
        Row("checkpoint", CheckpointPath);
        console.Write(table);
        console.MarkupLine($"θ SHA-256 [bold]{ThetaSha256}[/]");
    }

    private static string Describe(NewClientReport? report) => report switch
    {
        null => "–",
        { Accuracy: { } a } => $"accuracy {Format.PercentCi(a.Mean, a.Ci95)}",
        { Loss: { } l } => $"MSE {Format.MeanCi(l.Mean, l.Ci95)}",
        _ => "every episode diverged",
    };

    public JsonObject ToJson() => new()
    {
        ["command"] = Command,
        ["dataset"] = Config.Dataset,
        ["algorithm"] = TrainedBy ?? Config.Algorithm,
        ["partition"] = Config.Partition,
        ["completed"] = Completed,
        ["rounds"] = Round,
        ["target_rounds"] = Config.Rounds,
        ["rounds_this_run"] = Stats?.RoundsThisRun,
        ["seconds"] = Stats is { } s ? JsonReport.Round(s.Seconds, 3) : null,
        ["train_wall_seconds"] = TrainingSeconds is { } total ? JsonReport.Round(total, 3) : null,
        ["rounds_per_s"] = Stats is { } r ? JsonReport.Number(JsonReport.Round(r.RoundsPerSecond, 3)) : null,
        ["client_updates_per_s"] = Stats is null ? null : JsonReport.Number(JsonReport.Round(UpdatesPerSecond, 2)),
        ["clients_total"] = TrainingClients + NewClients,
        ["clients_training"] = TrainingClients,
        ["clients_new"] = NewClients,
        ["clients_per_round"] = Config.ClientsPerRound,
        ["participation"] = Participation.ToJson(),
        ["bytes_per_round"] = Math.Round(Participation.BytesPerRound),
        ["parameters"] = Parameters,
        ["client_loss_before"] = JsonReport.Number(Stats?.MeanPreLoss),
        ["client_loss_after"] = JsonReport.Number(Stats?.MeanPostLoss),
        ["client_accuracy_after"] = JsonReport.Number(Stats?.MeanPostAccuracy),
        ["engine"] = Engine,
        ["theta_sha256"] = ThetaSha256,
        ["checkpoint"] = CheckpointPath,
        ["evaluation"] = After is null ? null : new JsonObject
        {
            ["eval_seed"] = EvalSeed,
            ["new_clients"] = Evaluation(After),
            ["new_clients_before_adaptation"] = Before is null ? null : Evaluation(Before),
        },
        ["config"] = JsonNode.Parse(Config.ToJson()),
        ["torch"] = TorchStartup.Version,
    };

    /// <summary>mean, ci95 and p10 of the score (accuracy, or MSE for regression), with the loss beside it.</summary>
    private static JsonObject Evaluation(NewClientReport report) => new()
    {
        ["metric"] = report.Classification ? "accuracy" : "mse",
        ["mean"] = JsonReport.Number(report.Score?.Mean),
        ["ci95"] = JsonReport.Number(report.Score?.Ci95),
        ["p10"] = JsonReport.Number(report.P10),
        ["loss"] = JsonReport.MeanCi(report.Loss),
        ["clients"] = report.Clients,
        ["episodes_per_client"] = report.EpisodesPerClient,
        ["steps"] = report.Steps,
        ["diverged"] = report.Diverged,
    };
}
