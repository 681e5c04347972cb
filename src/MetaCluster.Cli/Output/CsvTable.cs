using System.Globalization;
using System.Text;

namespace MetaCluster.Cli.Output;

/// <summary>A CSV file with a header row: numbers in invariant culture (6 significant digits), null as an empty cell.</summary>
public sealed class CsvTable(params string[] columns)
{
    private readonly List<string[]> _rows = [];

    public IReadOnlyList<string> Columns => columns;

    public void Add(params object?[] values)
    {
        if (values.Length != columns.Length)
            throw new ArgumentException($"a row of {columns.Length} columns got {values.Length} values.");
        _rows.Add(values.Select(Cell).ToArray());
    }

    public void Save(string path)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', columns).Append('\n');
        foreach (var row in _rows) text.AppendJoin(',', row).Append('\n');
        File.WriteAllText(path, text.ToString());
    }

    private static string Cell(object? value) => value switch
    {
        null => "",
        double d => double.IsFinite(d) ? d.ToString("G6", CultureInfo.InvariantCulture) : d.ToString(CultureInfo.InvariantCulture),
        float f => Cell((double)f),
        string s when s.IndexOfAny([',', '"', '\n']) >= 0 => $"\"{s.Replace("\"", "\"\"")}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
