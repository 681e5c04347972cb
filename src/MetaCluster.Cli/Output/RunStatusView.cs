using System.Text.Json.Nodes;
using MetaCluster.Contracts;
using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>A run's status on a cluster, as a table for people and a JSON object for scripts (same fields).</summary>
public static class RunStatusView
{
    public static string StateName(RunState state) => state switch
    {
        RunState.NotStarted => "not-started",
        _ => state.ToString().ToLowerInvariant(),
    };

    public static Table ToTable(RunStatus status, string cluster)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]run {Markup.Escape(status.RunId)}[/]");
        table.AddColumn("");
        table.AddColumn("");
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("cluster", cluster);
        Row("state", StateName(status.State));
        Row("round", $"{status.Round} of {status.TotalRounds}");
        Row("meta-loss (last round)", Format.Number(status.MetaLoss));
        if (status.Accuracy is not null) Row("query accuracy (last round)", Format.Percent(status.Accuracy));
        Row("episodes/s (last round)", Format.Number(status.EpisodesPerSecond, "0.0"));
        Row("live workers", status.WaitingForWorkers ? $"{status.LiveWorkers} (waiting for a worker to join)" : status.LiveWorkers.ToString());
        Row("re-dispatched episodes", status.Redispatched.ToString());
        Row("retried episodes", status.Retried.ToString());
        Row("checkpoint", status.CheckpointRound is { } round ? $"round {round}: {status.CheckpointPath ?? "in the coordinator's record (no file)"}" : "–");
        if (status.ContributingSilos.Length > 0) Row("silos (last round)", string.Join(", ", status.ContributingSilos));
        if (status.Error is { } error) table.AddRow("[red]error[/]", Markup.Escape(error));
        return table;
    }

    public static JsonObject ToJson(RunStatus status, string command, string cluster) => new()
    {
        ["command"] = command,
        ["cluster"] = cluster,
        ["run_id"] = status.RunId,
        ["state"] = StateName(status.State),
        ["round"] = status.Round,
        ["total_rounds"] = status.TotalRounds,
        ["meta_loss"] = JsonReport.Number(status.MetaLoss),
        ["pre_adaptation_loss"] = JsonReport.Number(status.PreAdaptationLoss),
        ["accuracy"] = JsonReport.Number(status.Accuracy),
        ["episodes_per_s"] = JsonReport.Number(JsonReport.Round(status.EpisodesPerSecond, 2)),
        ["live_workers"] = status.LiveWorkers,
        ["waiting_for_workers"] = status.WaitingForWorkers,
        ["redispatched"] = status.Redispatched,
        ["retried"] = status.Retried,
        ["checkpoint_round"] = status.CheckpointRound,
        ["checkpoint"] = status.CheckpointPath,
        ["silos"] = new JsonArray([.. status.ContributingSilos.Select(s => (JsonNode?)JsonValue.Create(s))]),
        ["error"] = status.Error,
    };
}
