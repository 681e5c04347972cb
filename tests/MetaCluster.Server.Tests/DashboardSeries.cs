using System.Text.Json.Nodes;

namespace MetaCluster.Server.Tests;

/// <summary>The PromQL the Grafana dashboard runs, for the tests that check a live server exposes every series it names.</summary>
public static class DashboardSeries
{
    /// <summary>Series only a server hosting the federation gateway exposes.</summary>
    public static bool IsFederation(string name) => name.StartsWith("metacluster_federation_", StringComparison.Ordinal);

    /// <summary>Every PromQL expression of the dashboard (panel targets and query variables), with where it is.</summary>
    public static List<(string Where, string Expression)> Expressions(string? path = null)
    {
        var root = JsonNode.Parse(File.ReadAllText(path ?? Path.Combine(Paths.Repository, "deploy", "grafana", "metacluster.json")))!;
        var found = new List<(string, string)>();
        void Panels(JsonArray? panels)
        {
            foreach (var panel in panels ?? [])
            {
                foreach (var target in panel!["targets"]?.AsArray() ?? [])
                    if (target!["expr"]?.GetValue<string>() is { Length: > 0 } expr) found.Add(($"panel '{panel["title"]}'", expr));
                Panels(panel["panels"]?.AsArray());
            }
        }
        Panels(root["panels"]?.AsArray());
        foreach (var variable in root["templating"]?["list"]?.AsArray() ?? [])
            if (variable!["type"]?.GetValue<string>() == "query" && variable["definition"]?.GetValue<string>() is { } definition
                && System.Text.RegularExpressions.Regex.Match(definition, @"label_values\((?<m>[^,)]+)") is { Success: true } m)
                found.Add(($"variable '{variable["name"]}'", m.Groups["m"].Value.Trim()));
        return found;
    }

}
