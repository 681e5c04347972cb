using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>
/// Evaluation results as a table and as JSON; every accuracy names its batch-norm setting. Means are over the tasks
/// that stayed finite, and the tasks that diverged (<see cref="EpisodeScore.Diverged"/>) are counted beside them —
/// a column in the table when any did, <c>diverged</c> in every JSON entry — never a bare NaN.
/// </summary>
public static class EvaluationView
{
    public static Table ToTable(IReadOnlyList<EvaluationResult> results, int episodes, ulong seed)
    {
        bool classification = results.Any(r => r.Report.HasAccuracy);
        bool diverged = results.Any(r => r.Report.Diverged > 0);
        string unit = classification ? "episodes" : "tasks";
        var table = new Table().Border(TableBorder.Rounded)
            .Title("[bold]held-out evaluation[/]")
            .Caption(Markup.Escape($"{episodes} {unit}, eval seed {seed}; mean ± 95% CI (1.96·σ/√n)" +
                (diverged ? $" over the {unit} that stayed finite; diverged: a non-finite query loss after adaptation" : "")));
        table.AddColumn(new TableColumn("metric"));
        table.AddColumn(new TableColumn("inner steps").RightAligned());
        if (classification) table.AddColumn(new TableColumn("batch norm"));
        table.AddColumn(new TableColumn("mean ± 95% CI").RightAligned());
        if (diverged) table.AddColumn(new TableColumn("diverged").RightAligned());
        foreach (var result in results)
        {
            var report = result.Report;
            var cells = new List<string>();
            if (report.HasAccuracy)
                cells.AddRange(["query accuracy", result.Steps.ToString(), result.BatchNormLabel, Cell(report, report.Accuracy, Format.PercentCi)]);
            else if (classification)
                cells.AddRange(["query loss", result.Steps.ToString(), result.BatchNormLabel, Cell(report, report.Loss, (m, c) => Format.MeanCi(m, c))]);
            else
                cells.AddRange(["query MSE", result.Steps.ToString(), Cell(report, report.Loss, (m, c) => Format.MeanCi(m, c))]);
            if (diverged)
                cells.Add(report.Diverged == 0 ? "0" : $"[yellow]{report.Diverged} of {report.Episodes}[/]");
            table.AddRow(cells.ToArray());
            // Sequence learners (mann): accuracy by presentation of the class within the episode's sequence.
            foreach (var (instance, accuracy) in report.ByInstance ?? new Dictionary<int, double>())
            {
                string[] row = ["accuracy, " + Ordinal(instance) + " instance", result.Steps.ToString(), result.BatchNormLabel, $"{accuracy:P1}"];
                table.AddRow(diverged ? [.. row, ""] : row);
            }
        }
        return table;
    }

    private static string Ordinal(int n) => n + (n switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });

    private static string Cell(EvaluationReport report, MeanCi? value, Func<double, double, string> format) =>
        value is { } v ? format(v.Mean, v.Ci95) : $"[red]all {report.Episodes} diverged[/]";

    public static JsonObject ToJson(IReadOnlyList<EvaluationResult> results, int episodes, ulong seed)
    {
        var entries = new JsonArray();
        foreach (var result in results)
        {
            // Means over the finite tasks; null when every task diverged.
            var entry = new JsonObject { ["steps"] = result.Steps, ["diverged"] = result.Report.Diverged };
            if (result.Report.HasAccuracy)
            {
                entry["batch_norm"] = result.BatchNormLabel;
                entry["accuracy"] = JsonReport.MeanCi(result.Report.Accuracy);
                entry["loss"] = JsonReport.MeanCi(result.Report.Loss);
                if (result.Report.ByInstance is { } byInstance)
                    entry["accuracy_by_instance"] = new JsonObject(byInstance.Select(p => KeyValuePair.Create(p.Key.ToString(), (JsonNode?)p.Value)));
            }
            else
            {
                entry["mse"] = JsonReport.MeanCi(result.Report.Loss);
            }
            entries.Add(entry);
        }
        return new JsonObject { ["episodes"] = episodes, ["eval_seed"] = seed, ["results"] = entries };
    }
}
