using System.Globalization;

namespace MetaCluster.Cli.Output;

/// <summary>Human-readable numbers, culture-independent.</summary>
public static class Format
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>In <paramref name="format"/>, or in scientific notation from 10⁶ on (e.g. the mean of nearly diverged tasks).</summary>
    public static string Number(double value, string format = "0.0000") =>
        value.ToString(double.IsFinite(value) && Math.Abs(value) >= 1e6 ? "0.###E+0" : format, Invariant);

    public static string Number(double? value, string format = "0.0000") => value is { } v ? Number(v, format) : "–";

    public static string Percent(double? value) => value is { } v ? (100 * v).ToString("0.00", Invariant) + "%" : "–";

    public static string MeanCi(double mean, double ci, string format = "0.0000") => $"{Number(mean, format)} ± {Number(ci, format)}";

    public static string PercentCi(double mean, double ci) => $"{(100 * mean).ToString("0.00", Invariant)}% ± {(100 * ci).ToString("0.00", Invariant)}%";

    /// <summary>A run's training time: seconds under a minute (short runs), else as <see cref="Duration"/>.</summary>
    public static string Seconds(double seconds) =>
        seconds < 60 ? seconds.ToString("0.00", Invariant) + " s" : Duration(TimeSpan.FromSeconds(seconds));

    public static string Duration(TimeSpan? span) => span is not { } s ? "–"
        : s.TotalHours >= 1 ? $"{(int)s.TotalHours}:{s.Minutes:00}:{s.Seconds:00}"
        : $"{s.Minutes:00}:{s.Seconds:00}";
}
