using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>Evaluation results as a table and as JSON; every accuracy names its batch-norm setting.</summary>
public static class EvaluationView
{
    public static Table ToTable(IReadOnlyList<EvaluationResult> results, int episodes, ulong seed)
    {
        bool classification = results.Any(r => r.Report.Accuracy is not null);
        string unit = classification ? "episodes" : "tasks";
        var table = new Table().Border(TableBorder.Rounded)
            .Title("[bold]held-out evaluation[/]")
            .Caption($"{episodes} {unit}, eval seed {seed}; mean ± 95% CI (1.96·σ/√n)");
        table.AddColumn(new TableColumn("metric"));
        table.AddColumn(new TableColumn("inner steps").RightAligned());
        if (classification) table.AddColumn(new TableColumn("batch norm"));
        table.AddColumn(new TableColumn("mean ± 95% CI").RightAligned());
        foreach (var result in results)
        {
            var report = result.Report;
            if (report.Accuracy is { } accuracy)
                table.AddRow("query accuracy", result.Steps.ToString(), result.BatchNormLabel, Format.PercentCi(accuracy.Mean, accuracy.Ci95));
            else if (classification)
                table.AddRow("query loss", result.Steps.ToString(), result.BatchNormLabel, Format.MeanCi(report.Loss.Mean, report.Loss.Ci95));
            else
                table.AddRow("query MSE", result.Steps.ToString(), Format.MeanCi(report.Loss.Mean, report.Loss.Ci95));
        }
        return table;
    }

    public static JsonObject ToJson(IReadOnlyList<EvaluationResult> results, int episodes, ulong seed)
    {
        var entries = new JsonArray();
        foreach (var result in results)
        {
            var entry = new JsonObject { ["steps"] = result.Steps };
            if (result.Report.Accuracy is { } accuracy)
            {
                entry["batch_norm"] = result.BatchNormLabel;
                entry["accuracy"] = JsonReport.MeanCi(accuracy);
                entry["loss"] = JsonReport.MeanCi(result.Report.Loss);
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
