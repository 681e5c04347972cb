using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>The end-of-training report: a Spectre table for people, one JSON object for scripts, with the same fields.</summary>
public sealed record TrainSummary(
    TrainingConfig Config, TrainingStats Stats, long Round, bool Completed, string ThetaSha256, string CheckpointPath,
    IReadOnlyList<EvaluationResult> Evaluation, int EvalEpisodes, ulong EvalSeed)
{
    /// <summary>"cluster" (through grains) or "in-process" (the single-process trainer).</summary>
    public string EnginePath { get; init; } = "in-process";
    public string? RunId { get; init; }
    /// <summary>Worker slots that computed the last round (cluster only).</summary>
    public int? Workers { get; init; }
    /// <summary>Episodes handed to another worker because theirs died or timed out (cluster only).</summary>
    public long? Redispatched { get; init; }
    /// <summary>The whole run's training seconds, every resume included (null when its history was not timed).</summary>
    public double? TrainingSeconds { get; init; }
    /// <summary>The PyTorch file θ started from (train --init); null when θ started from the seed or a checkpoint.</summary>
    public string? InitializedFrom { get; init; }

    public void Render(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Completed ? "[bold]training finished[/]" : "[bold yellow]training stopped[/]");
        table.AddColumn("");
        table.AddColumn("");
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        string window = $"(mean of the last {Stats.RecentCount} rounds)";

        Row("run", $"{Config.Dataset} / {Config.Algorithm}{(Config.FirstOrder && Config.Algorithm != "fomaml" ? " (first order)" : "")}, seed {Config.Seed}, {Config.Threads} thread(s)");
        Row("engine", EnginePath + (Workers is { } w ? $", {w} worker(s), {Redispatched ?? 0} episode(s) re-dispatched" : ""));
        if (RunId is not null) Row("run id", RunId);
        if (InitializedFrom is not null) Row("θ started from", InitializedFrom);
        Row("iterations", $"{Round} of {Config.Iterations} ({Stats.RoundsThisRun} in this run)");
        Row("seconds", Format.Number(Stats.Seconds, "0.00"));
        if (Stats.RoundsThisRun < Round)
            Row("training time, whole run", TrainingSeconds is { } total ? Format.Seconds(total) : "not recorded (resumed from an older checkpoint)");
        Row("episodes/s", Format.Number(Stats.EpisodesPerSecond, "0.0"));
        Row("meta-loss before adaptation", $"{Format.Number(Stats.MeanPreLoss)} {window}");
        Row("meta-loss after adaptation", $"{Format.Number(Stats.MeanPostLoss)} {window}");
        if (Stats.MeanPostAccuracy is not null)
            Row("query accuracy after adaptation", $"{Format.Percent(Stats.MeanPostAccuracy)} {window}");
        Row("checkpoint", CheckpointPath);
        console.Write(table);
        console.MarkupLine($"θ SHA-256 [bold]{ThetaSha256}[/]");
        if (Evaluation.Count > 0) console.Write(EvaluationView.ToTable(Evaluation, EvalEpisodes, EvalSeed));
    }

    public JsonObject ToJson()
    {
        var report = new JsonObject
        {
            ["command"] = "train",
            ["engine"] = "metacluster",
            ["dataset"] = Config.Dataset,
            ["algorithm"] = Config.Algorithm,
            ["completed"] = Completed,
            ["iterations"] = Round,
            ["target_iterations"] = Config.Iterations,
            ["iterations_this_run"] = Stats.RoundsThisRun,
            ["seconds"] = JsonReport.Round(Stats.Seconds, 3),
            ["cpu_seconds"] = JsonReport.Round(Stats.CpuSeconds, 3),
            ["train_wall_seconds"] = TrainingSeconds is { } total ? JsonReport.Round(total, 3) : null,
            ["meta_iters_per_s"] = JsonReport.Number(JsonReport.Round(Stats.RoundsPerSecond, 3)),
            ["episodes_per_s"] = JsonReport.Number(JsonReport.Round(Stats.EpisodesPerSecond, 2)),
            ["metrics_window"] = Stats.RecentCount,
            ["meta_loss_before"] = JsonReport.Number(Stats.MeanPreLoss),
            ["meta_loss_after"] = JsonReport.Number(Stats.MeanPostLoss),
            ["query_accuracy_before"] = JsonReport.Number(Stats.MeanPreAccuracy),
            ["query_accuracy_after"] = JsonReport.Number(Stats.MeanPostAccuracy),
            ["theta_sha256"] = ThetaSha256,
            ["engine_path"] = EnginePath,
            ["run_id"] = RunId,
            ["workers"] = Workers,
            ["redispatched"] = Redispatched,
            ["checkpoint"] = CheckpointPath,
            ["initialized_from"] = InitializedFrom,
            ["evaluation"] = Evaluation.Count > 0 ? EvaluationView.ToJson(Evaluation, EvalEpisodes, EvalSeed) : null,
            ["config"] = JsonReport.Config(Config),
            ["torch"] = TorchStartup.Version,
        };
        return report;
    }
}
