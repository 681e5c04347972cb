using System.Text.RegularExpressions;

namespace MetaCluster.Server.Tests;

/// <summary>The metric names a PromQL expression reads (enough PromQL for a dashboard: selectors, functions, aggregations).</summary>
public static partial class PromQl
{
    private static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"];

    public static IReadOnlySet<string> MetricNames(string expression)
    {
        string bare = Strings().Replace(expression, "\"\"");
        bare = Braces().Replace(bare, " ");       // label matchers {…}
        bare = Brackets().Replace(bare, " ");     // ranges and subqueries […]
        bare = Grouping().Replace(bare, " ");     // by (…), without (…), on (…), ignoring (…), group_left (…)
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Identifier().Matches(bare))
        {
            string name = m.Groups["name"].Value;
            bool isCall = m.Groups["call"].Success;
            if (!isCall && !Keywords.Contains(name.ToLowerInvariant())) names.Add(name);
        }
        return names;
    }

    /// <summary>The series names a Prometheus text exposition holds (histogram parts included as written).</summary>
    public static IReadOnlySet<string> ExposedNames(string scrape) =>
        scrape.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SeriesName().Match(l).Value).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Strings();
    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();
    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Brackets();
    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();
    [GeneratedRegex(@"(?<![\w:$.])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<call>\s*\()?")]
    private static partial Regex Identifier();
    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SeriesName();
}
