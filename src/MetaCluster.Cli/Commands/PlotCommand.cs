using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster plot</c>: a line chart (PNG) from JSON lines — learning curves of <c>train</c>/<c>evaluate</c>
/// segments, federated curve points, benchmark sweeps — so every chart in the docs is drawn from what a run printed.
/// </summary>
public sealed class PlotCommand
{
    private readonly Option<string[]> _input = new("--input") { Description = "a JSONL file (repeatable)", HelpName = "FILE", Required = true, AllowMultipleArgumentsPerToken = true };
    private readonly Option<string> _x = new("--x") { Description = "the x field (dots for nested fields, e.g. round)", HelpName = "FIELD", Required = true };
    private readonly Option<string> _y = new("--y") { Description = "the y field (e.g. evaluation.accuracy)", HelpName = "FIELD", Required = true };
    private readonly Option<string[]> _series = new("--series") { Description = "field(s) whose values name the lines (e.g. algorithm; :file: the input file's name)", HelpName = "FIELD", AllowMultipleArgumentsPerToken = true };
    private readonly Option<string[]> _where = new("--where") { Description = "keep only lines whose FIELD equals VALUE (repeatable)", HelpName = "FIELD=VALUE" };
    private readonly Option<double> _xScale = new("--x-scale") { Description = "multiply x by this (0.000277778 turns seconds into hours)", HelpName = "F", DefaultValueFactory = _ => 1 };
    private readonly Option<double> _yScale = new("--y-scale") { Description = "multiply y by this (100 for percentages)", HelpName = "F", DefaultValueFactory = _ => 1 };
    private readonly Option<string> _title = new("--title") { Description = "the chart's title", HelpName = "TEXT" };
    private readonly Option<string> _xLabel = new("--x-label") { Description = "the x axis label (default: the x field)", HelpName = "TEXT" };
    private readonly Option<string> _yLabel = new("--y-label") { Description = "the y axis label (default: the y field)", HelpName = "TEXT" };
    private readonly Option<bool> _logX = new("--log-x") { Description = "logarithmic x axis", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _yFromZero = new("--y-from-zero") { Description = "start the y axis at 0", Arity = ArgumentArity.Zero };
    private readonly Option<string> _out = new("--out") { Description = "the PNG to write (default: the first input with .png)", HelpName = "PNG" };
    private readonly Option<string> _legend = new("--legend")
    {
        Description = "where the legend goes: upper-left, upper-right, lower-left, lower-right, middle-right (default)",
        HelpName = "PLACE",
        DefaultValueFactory = _ => "middle-right",
    };
    private readonly Option<string> _size = new("--size") { Description = "PNG size in pixels (default 800x500)", HelpName = "WxH" };

    public Command Build()
    {
        var command = new Command("plot", "Draw a line chart (PNG) of fields of JSON lines: one line per value of --series.")
        {
            _input, _x, _y, _series, _where, _xScale, _yScale, _title, _xLabel, _yLabel, _logX, _yFromZero, _out, _size, _legend,
        };
        command.SetAction(result =>
        {
            var inputs = result.GetValue(_input)!;
            var filters = (result.GetValue(_where) ?? []).Select(ParseFilter).ToArray();
            string x = result.GetValue(_x)!, y = result.GetValue(_y)!;
            foreach (var (name, scale) in new[] { ("--x-scale", result.GetValue(_xScale)), ("--y-scale", result.GetValue(_yScale)) })
                if (scale == 0 || !double.IsFinite(scale)) throw new ArgumentException($"{name} must be a finite number other than 0 (got {scale}).");
            var series = JsonlCurves.Read(inputs, new JsonlCurves.Selection(x, y, result.GetValue(_series) ?? [], filters, result.GetValue(_yScale), result.GetValue(_xScale)));
            var (width, height) = SweepOptions.ParseSize(result.GetValue(_size), "--size");
            string png = result.GetValue(_out) ?? Path.ChangeExtension(inputs[0], ".png");
            if (SweepPlots.UseFonts() is { } warning) Terminal.WriteStatus($"warning: {warning}");
            SweepPlots.Lines(png, result.GetValue(_title) ?? $"{y} against {x}", result.GetValue(_xLabel) ?? x, result.GetValue(_yLabel) ?? y,
                series, width, height, result.GetValue(_logX), result.GetValue(_yFromZero), Legend(result.GetValue(_legend)!));
            Console.WriteLine($"{png}: {series.Count} line(s), {series.Sum(s => s.X.Length)} points");
            return 0;
        });
        return command;
    }

    private static ScottPlot.Alignment Legend(string place) => place switch
    {
        "upper-left" => ScottPlot.Alignment.UpperLeft,
        "upper-right" => ScottPlot.Alignment.UpperRight,
        "lower-left" => ScottPlot.Alignment.LowerLeft,
        "lower-right" => ScottPlot.Alignment.LowerRight,
        "middle-right" => ScottPlot.Alignment.MiddleRight,
        _ => throw new ArgumentException($"--legend is upper-left, upper-right, lower-left, lower-right or middle-right (got '{place}')."),
    };

    private static (string, string) ParseFilter(string text)
    {
        int equals = text.IndexOf('=');
        if (equals <= 0) throw new ArgumentException($"--where takes FIELD=VALUE (got '{text}').");
        return (text[..equals], text[(equals + 1)..]);
    }
}
