using System.Globalization;
using ScottPlot;

namespace MetaCluster.Cli.Output;

/// <summary>One line of a plot: its legend text and points. A reference line is drawn dashed, without markers.</summary>
public sealed record PlotSeries(string Label, double[] X, double[] Y, bool Reference = false);

/// <summary>
/// The PNG charts of <c>bench --sweep</c> (ScottPlot on SkiaSharp, headless). Text needs a font: SkiaSharp's Linux
/// build without fontconfig reads /usr/share/fonts; where it finds none the charts still render, without text, and
/// <see cref="UseFonts"/> says so.
/// </summary>
public static class SweepPlots
{
    private static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"), Color.FromHex("#9467bd"),
        Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#17becf"),
    ];

    /// <summary>Sans-serif families preferred for the charts' text, where installed (ScottPlot would take the system default).</summary>
    private static readonly string[] SansFonts = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"];

    /// <summary>
    /// Picks the charts' font; returns a warning when no font can be found for their text, null when text will render.
    /// </summary>
    public static string? UseFonts()
    {
        try
        {
            var installed = SkiaSharp.SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
            if (SansFonts.FirstOrDefault(installed.Contains) is { } sans) Fonts.Default = sans;
            using var typeface = SkiaSharp.SKTypeface.FromFamilyName(Fonts.Default);
            bool drawable = typeface is not null && typeface.GlyphCount > 0 && typeface.GetGlyph('0') != 0;
            return drawable ? null
                : "no font found (SkiaSharp looks in /usr/share/fonts): the charts are drawn without their text. Install a TrueType font, e.g. fonts-dejavu-core.";
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            return $"cannot load SkiaSharp's native library ({e.Message}): no PNG charts.";
        }
    }

    /// <summary>
    /// Throughput (or any y) against a swept value, one line per series; y starts at 0. With <paramref name="logX"/>
    /// the x axis is logarithmic, ticked at the measured values.
    /// </summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series,
        int width, int height, bool logX = false, bool yFromZero = true, Alignment legend = Alignment.UpperLeft)
    {
        using var plot = new Plot();
        double Position(double x) => logX ? Math.Log10(x) : x;
        int color = 0;
        foreach (var line in series)
        {
            var scatter = plot.Add.Scatter(line.X.Select(Position).ToArray(), line.Y);
            scatter.LegendText = line.Label;
            scatter.LineWidth = line.Reference ? 1.5f : 2;
            if (line.Reference)
            {
                scatter.LinePattern = LinePattern.Dashed;
                scatter.MarkerSize = 0;
                scatter.Color = Colors.Gray;
            }
            else
            {
                scatter.MarkerSize = 8;
                scatter.Color = Palette[color++ % Palette.Length];
            }
        }
        var ticks = series.Where(s => !s.Reference).SelectMany(s => s.X).Distinct().Order().ToArray();
        // Ticks at the measured values read well for a sweep's few points; past a dozen they overlap: automatic ticks.
        bool measuredTicks = ticks.Length is > 0 and <= 12;
        if (measuredTicks)
            plot.Axes.Bottom.SetTicks(ticks.Select(Position).ToArray(), ticks.Select(x => x.ToString("G6", CultureInfo.InvariantCulture)).ToArray());
        Decorate(plot, title, xLabel, yLabel, legend);
        plot.Axes.AutoScale();
        if (measuredTicks)
        {
            double low = Position(ticks[0]), high = Position(ticks[^1]), pad = Math.Max((high - low) * 0.05, 0.5 * (logX ? 0.1 : 1));
            plot.Axes.SetLimitsX(low - pad, high + pad);
        }
        double top = series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        if (yFromZero) plot.Axes.SetLimitsY(0, top * 1.12);
        Save(plot, path, width, height);
    }

    /// <summary>
    /// Per-round values (drawn faintly) and their trailing moving average over <paramref name="window"/> rounds (drawn
    /// bold, with the legend), one pair per series.
    /// </summary>
    /// <param name="yMax">a fixed top for the y axis (100 for percentages); otherwise it follows the averages</param>
    public static void Curve(string path, string title, string yLabel, IReadOnlyList<PlotSeries> series, int window,
        int width, int height, double? yMax = null)
    {
        using var plot = new Plot();
        int color = 0;
        var averaged = new List<(PlotSeries Line, Color Color)>();
        foreach (var line in series)
        {
            var c = Palette[color++ % Palette.Length];
            var raw = plot.Add.Scatter(line.X, line.Y);
            raw.Color = c.WithAlpha(0.22);
            raw.LineWidth = 1;
            raw.MarkerSize = 0;
            averaged.Add((line, c));
        }
        double top = 0;
        foreach (var (line, c) in averaged)
        {
            var means = MovingAverage(line.Y, window);
            top = Math.Max(top, means.Where(double.IsFinite).DefaultIfEmpty(0).Max());
            var smooth = plot.Add.Scatter(line.X, means);
            smooth.Color = c;
            smooth.LineWidth = 2.5f;
            smooth.MarkerSize = 0;
            smooth.LegendText = window > 1 ? $"{line.Label} (mean of {window} rounds)" : line.Label;
        }
        Decorate(plot, title, "round (meta-iteration)", yLabel, Alignment.UpperRight);
        plot.Axes.AutoScale();
        // The averages set the scale; single rounds' spikes may leave the top.
        plot.Axes.SetLimitsY(0, yMax ?? (top > 0 ? top : 1) * 1.25);
        Save(plot, path, width, height);
    }

    /// <summary>The mean of the last <paramref name="window"/> values at each point (fewer at the start).</summary>
    public static double[] MovingAverage(IReadOnlyList<double> values, int window)
    {
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    private static void Decorate(Plot plot, string title, string xLabel, string yLabel, Alignment legend)
    {
        plot.Title(title, size: 15);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        plot.Legend.IsVisible = true;
        plot.Legend.Alignment = legend;
        plot.Legend.FontSize = 11;
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, width, height);
    }
}
