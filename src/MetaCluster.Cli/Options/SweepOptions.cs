using System.CommandLine;
using System.Globalization;
using MetaCluster.Cli.Commands;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Options;

/// <summary>The options of <c>bench --sweep</c>: which sweeps, their values, how much work per point, where the files go.</summary>
public sealed class SweepOptions
{
    public const string DefaultOut = "runs/sweep";

    public Option<string> Sweep { get; } = new("--sweep")
    {
        Description = $"instead of one timing, measure how cost grows and write <out>/sweep-<name>.csv and .png for each sweep: " +
                      $"{string.Join(", ", SweepBench.Names)} (comma-separated; default all)",
        HelpName = "LIST",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public Option<string> Out { get; } = new("--out") { Description = $"with --sweep: folder for the CSV and PNG files (default {DefaultOut})", HelpName = "DIR" };

    private readonly Option<int[]?> _metaBatches = IntList("--sweep-meta-batch", "B,B", "with --sweep: the meta-batch sizes of the meta-batch sweep", SweepBench.DefaultMetaBatches);
    private readonly Option<int[]?> _innerSteps = IntList("--sweep-inner-steps", "S,S", "with --sweep: the inner-step counts of the inner-steps sweep", SweepBench.DefaultInnerSteps);
    private readonly Option<int[]?> _workers = IntList("--sweep-workers", "W,W", "with --sweep: the worker-slot counts of the embedded silo in the workers sweep", SweepBench.DefaultWorkers);

    private readonly Option<int?> _pointTasks = new("--point-tasks")
    {
        Description = $"with --sweep: tasks (episodes) each throughput point times, after {SweepBench.WarmupDescription} " +
                      $"(default {SweepBench.DefaultPointTasks} for sinusoid, {SweepBench.DefaultClassificationPointTasks} for classification); " +
                      "--iterations sets the learning curve's rounds",
        HelpName = "N",
    };

    private readonly Option<string> _plotSize = new("--plot-size")
    {
        Description = $"with --sweep: PNG size in pixels (default {SweepBench.DefaultWidth}x{SweepBench.DefaultHeight})",
        HelpName = "WxH",
    };

    public void AddTo(Command command)
    {
        command.Add(Sweep);
        command.Add(Out);
        command.Add(_metaBatches);
        command.Add(_innerSteps);
        command.Add(_workers);
        command.Add(_pointTasks);
        command.Add(_plotSize);
    }

    /// <summary>True when --sweep was given (with or without a list).</summary>
    public bool Requested(ParseResult result) => result.GetResult(Sweep) is not null;

    /// <summary>The sweep-only options that were given: an error without --sweep.</summary>
    public IEnumerable<string> GivenSweepOnly(ParseResult result) =>
        new Option[] { Out, _metaBatches, _innerSteps, _workers, _pointTasks, _plotSize }.Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name);

    /// <param name="config">the run's config (published defaults and the options given)</param>
    /// <param name="curveRounds">--iterations if given: the learning curve's rounds</param>
    public SweepSettings ToSettings(ParseResult result, TrainingConfig config, int? curveRounds)
    {
        string? list = result.GetValue(Sweep);
        var names = string.IsNullOrWhiteSpace(list) || list.Trim() == "all"
            ? SweepBench.Names
            : list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().ToArray();
        foreach (string name in names)
            if (!SweepBench.Names.Contains(name))
                throw new ArgumentException($"--sweep takes {string.Join(", ", SweepBench.Names)} or all, comma-separated (got '{name}').");

        int pointTasks = result.GetValue(_pointTasks) ?? (config.IsClassification ? SweepBench.DefaultClassificationPointTasks : SweepBench.DefaultPointTasks);
        if (pointTasks < 1) throw new ArgumentException($"--point-tasks must be at least 1 (got {pointTasks}).");
        int rounds = curveRounds ?? (config.IsClassification ? SweepBench.DefaultClassificationCurveRounds : SweepBench.DefaultCurveRounds);
        if (rounds < 1) throw new ArgumentException($"--iterations (the learning curve's rounds) must be at least 1 (got {rounds}).");
        var (width, height) = ParseSize(result.GetValue(_plotSize), "--plot-size");
        return new SweepSettings(names, Path.GetFullPath(result.GetValue(Out) ?? DefaultOut),
            result.GetValue(_metaBatches) ?? SweepBench.DefaultMetaBatches, result.GetValue(_innerSteps) ?? SweepBench.DefaultInnerSteps,
            result.GetValue(_workers) ?? SweepBench.DefaultWorkers, pointTasks, rounds, width, height);
    }

    /// <summary>WIDTHxHEIGHT in pixels (each 100 to 8000), or the sweep charts' default size.</summary>
    public static (int Width, int Height) ParseSize(string? text, string option)
    {
        if (text is null) return (SweepBench.DefaultWidth, SweepBench.DefaultHeight);
        var parts = text.ToLowerInvariant().Split('x', StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int w) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int h)
            && w is >= 100 and <= 8000 && h is >= 100 and <= 8000)
            return (w, h);
        throw new ArgumentException($"{option} takes WIDTHxHEIGHT in pixels, each 100 to 8000, e.g. 800x500 (got '{text}').");
    }

    private static Option<int[]?> IntList(string name, string helpName, string description, int[] defaults) => new(name)
    {
        Description = $"{description} (default {string.Join(',', defaults)})",
        HelpName = helpName,
        // Without a default System.CommandLine hands an option that was not given to the parser with no tokens, which
        // read as an empty list: every sweep then had no points.
        DefaultValueFactory = _ => defaults,
        CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return defaults;
            string text = string.Join(',', result.Tokens.Select(t => t.Value));
            var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var values = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i], CultureInfo.InvariantCulture, out values[i]) || values[i] < 1)
                {
                    result.AddError($"{name} takes positive whole numbers separated by commas, e.g. {string.Join(',', defaults)} (got '{text}').");
                    return [];
                }
            }
            if (values.Length == 0) result.AddError($"{name} needs at least one value, e.g. {string.Join(',', defaults)}.");
            return values.Distinct().Order().ToArray();
        },
    };
}

/// <summary>What <c>bench --sweep</c> runs; see <see cref="SweepOptions"/>.</summary>
public sealed record SweepSettings(
    IReadOnlyList<string> Sweeps, string OutDir, int[] MetaBatches, int[] InnerSteps, int[] Workers,
    int PointTasks, int CurveRounds, int Width, int Height);
