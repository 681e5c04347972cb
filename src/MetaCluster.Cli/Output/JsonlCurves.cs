using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MetaCluster.Cli.Output;

/// <summary>
/// Turns JSON lines (what our runs and benchmark scripts print) into plot series: x and y are fields, nested fields
/// named with dots (<c>evaluation.new_clients.mean</c>); the series are the distinct values of one or more label
/// fields, or of <c>:file</c> (the input file's name: one line per run when each run printed its own file); <c>key=value</c>
/// filters keep only matching lines. Lines that are not JSON objects (comments, progress) are
/// skipped; a line that lacks the x or y field is skipped and counted, so a mixed file (final results and curve points)
/// plots the points that carry the fields.
/// </summary>
public static class JsonlCurves
{
    public sealed record Selection(string X, string Y, IReadOnlyList<string> SeriesKeys, IReadOnlyList<(string Key, string Value)> Filters, double YScale = 1, double XScale = 1);

    /// <summary>The series key that names a line by the file it came from.</summary>
    public const string FileKey = ":file"; // not "@file": System.CommandLine reads "@name" as a response file

    public static IReadOnlyList<PlotSeries> Read(IEnumerable<string> files, Selection selection)
    {
        var groups = new Dictionary<string, List<(double X, double Y)>>(StringComparer.Ordinal);
        var order = new List<string>();
        var seenKeys = new SortedSet<string>(StringComparer.Ordinal);
        int objects = 0;
        foreach (string file in files)
        {
            if (!File.Exists(file)) throw new ArgumentException($"plot: no file '{file}'.");
            string fileLabel = Path.GetFileNameWithoutExtension(file);
            foreach (string line in File.ReadLines(file))
            {
                if (!line.TrimStart().StartsWith('{')) continue;
                JsonObject item;
                try { item = JsonNode.Parse(line)!.AsObject(); }
                catch (JsonException) { continue; }
                objects++;
                foreach (var pair in item) seenKeys.Add(pair.Key);
                if (!selection.Filters.All(f => Text(Field(item, f.Key)) == f.Value)) continue;
                if (Number(Field(item, selection.X)) is not { } x || Number(Field(item, selection.Y)) is not { } y) continue;
                string label = selection.SeriesKeys.Count == 0 ? selection.Y
                    : string.Join(", ", selection.SeriesKeys.Select(k => k == FileKey ? fileLabel : Text(Field(item, k)) ?? "?"));
                if (!groups.TryGetValue(label, out var points))
                {
                    groups[label] = points = [];
                    order.Add(label);
                }
                points.Add((x * selection.XScale, y * selection.YScale));
            }
        }
        if (groups.Count == 0)
            throw new ArgumentException(objects == 0
                ? "plot: the input holds no JSON lines."
                : $"plot: no line has both a numeric '{selection.X}' and '{selection.Y}'{(selection.Filters.Count > 0 ? " and matches the --where filters" : "")}; "
                  + $"top-level fields seen: {string.Join(", ", seenKeys)}.");
        // A re-run point (same x) replaces the earlier one; points in x order.
        return order.Select(label =>
        {
            var points = groups[label].GroupBy(p => p.X).Select(g => g.Last()).OrderBy(p => p.X).ToArray();
            return new PlotSeries(label, points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
        }).ToArray();
    }

    /// <summary>A field by dotted path, or null; a number indexes an array (<c>evaluation.results.0.accuracy.mean</c>).</summary>
    public static JsonNode? Field(JsonObject item, string path)
    {
        JsonNode? node = item;
        foreach (string part in path.Split('.'))
        {
            node = node switch
            {
                JsonObject obj => obj.TryGetPropertyValue(part, out var child) ? child : null,
                JsonArray array => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < array.Count ? array[i] : null,
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    private static double? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number ? value.GetValue<double>() : null;

    private static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>().ToString("G", CultureInfo.InvariantCulture),
        _ => node.ToJsonString(),
    };
}
