using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Output;

/// <summary>The machine-readable result: ONE JSON line on stdout, snake_case keys, like the peer benchmark scripts.</summary>
public static class JsonReport
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = false,
    };

    /// <summary>Prints the report with its provenance (command line, machine, wall time; see <see cref="Provenance"/>).</summary>
    public static void Write(JsonObject report)
    {
        Provenance.AddTo(report);
        Console.Out.WriteLine(report.ToJsonString(Options));
    }

    /// <summary>The run's config as a JSON object with snake_case keys.</summary>
    public static JsonNode Config(TrainingConfig config) => JsonSerializer.SerializeToNode(config, Options)!;

    /// <summary>Mean and CI; null when there is no mean (e.g. every evaluation task diverged).</summary>
    public static JsonObject? MeanCi(MeanCi? value) => value is { } v ? new() { ["mean"] = Number(v.Mean), ["ci95"] = Number(v.Ci95) } : null;

    /// <summary>A number that stays valid JSON when it is not finite (NaN/Infinity become strings, as Python writes them bare).</summary>
    public static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static JsonNode? Number(double? value) => value is { } v ? Number(v) : null;

    public static double Round(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : value;
}
