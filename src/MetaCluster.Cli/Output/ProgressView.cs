using System.Diagnostics;
using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>
/// Shows training progress: a live Spectre.Console bar on an interactive terminal, otherwise (pipes, CI, --json)
/// a plain line on stderr every few seconds and at the end.
/// </summary>
public static class ProgressView
{
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);

    /// <summary>Runs <paramref name="body"/>, giving it a callback to call after each round.</summary>
    public static T Run<T>(string title, TrainingStats stats, bool live, Func<Action, T> body) =>
        live ? RunLive(title, stats, body) : RunPlain(title, stats, body);

    /// <summary>The same for a body that awaits (following a run on a cluster).</summary>
    public static Task<T> RunAsync<T>(string title, TrainingStats stats, bool live, Func<Action, Task<T>> body) =>
        live ? RunLiveAsync(title, stats, body) : RunPlainAsync(title, stats, body);

    private static Task<T> RunLiveAsync<T>(string title, TrainingStats stats, Func<Action, Task<T>> body) =>
        Terminal.Out.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
            .StartAsync(context =>
            {
                var task = context.AddTask(Describe(title, stats, markup: true), maxValue: Math.Max(1, stats.TotalRounds));
                task.Value = stats.Round;
                return body(() =>
                {
                    task.Value = stats.Round;
                    task.Description = Describe(title, stats, markup: true);
                });
            });

    private static async Task<T> RunPlainAsync<T>(string title, TrainingStats stats, Func<Action, Task<T>> body)
    {
        var sinceLast = Stopwatch.StartNew();
        var result = await body(() =>
        {
            if (sinceLast.Elapsed < PlainInterval) return;
            sinceLast.Restart();
            Terminal.WriteStatus(Describe(title, stats, markup: false));
        });
        if (stats.RoundsThisRun > 0) Terminal.WriteStatus(Describe(title, stats, markup: false));
        return result;
    }

    private static T RunLive<T>(string title, TrainingStats stats, Func<Action, T> body) =>
        Terminal.Out.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
            .Start(context =>
            {
                var task = context.AddTask(Describe(title, stats, markup: true), maxValue: Math.Max(1, stats.TotalRounds));
                task.Value = stats.Round;
                return body(() =>
                {
                    task.Value = stats.Round;
                    task.Description = Describe(title, stats, markup: true);
                });
            });

    private static T RunPlain<T>(string title, TrainingStats stats, Func<Action, T> body)
    {
        var sinceLast = Stopwatch.StartNew();
        var result = body(() =>
        {
            if (sinceLast.Elapsed < PlainInterval) return;
            sinceLast.Restart();
            Terminal.WriteStatus(Describe(title, stats, markup: false));
        });
        if (stats.RoundsThisRun > 0) Terminal.WriteStatus(Describe(title, stats, markup: false));
        return result;
    }

    /// <summary>"train 120/300  meta-loss 0.5120  acc 91.20%  312 ep/s  workers 2  re-dispatched 0  ETA 00:12".</summary>
    public static string Describe(string title, TrainingStats stats, bool markup)
    {
        string Bold(string s) => markup ? $"[bold]{Markup.Escape(s)}[/]" : s;
        var parts = new List<string>
        {
            $"{(markup ? Markup.Escape(title) : title)} {Bold($"{stats.Round}/{stats.TotalRounds}")}",
            $"meta-loss {Bold(Format.Number(stats.MeanPostLoss))}",
        };
        if (stats.MeanPostAccuracy is { } accuracy) parts.Add($"acc {Bold(Format.Percent(accuracy))}");
        parts.Add($"{Format.Number(stats.EpisodesPerSecond, "0.0")} ep/s");
        if (stats.LiveWorkers is { } workers) parts.Add($"workers {workers}");
        if (stats.Redispatched is { } redispatched) parts.Add($"re-dispatched {redispatched}");
        parts.Add($"ETA {Format.Duration(stats.Remaining)}");
        return string.Join("  ", parts);
    }
}
