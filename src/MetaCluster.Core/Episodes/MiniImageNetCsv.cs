namespace MetaCluster.Core.Episodes;

/// <summary>One row of a mini-ImageNet split file: the image <see cref="FileName"/> of class <see cref="Label"/>, found at line <see cref="Line"/>.</summary>
public sealed record MiniImageNetRow(string Csv, int Line, string FileName, string Label);

/// <summary>
/// Ravi &amp; Larochelle's split files (train.csv, val.csv, test.csv from github.com/twitter/meta-learning-lstm,
/// data/miniImagenet/): a header line <c>filename,label</c>, then one <c>n0153282900000005.jpg,n01532829</c> row per
/// image. Blank lines are skipped; anything else that is not two non-empty fields is an error naming the line.
/// </summary>
public static class MiniImageNetCsv
{
    public const string Header = "filename,label";

    public static IReadOnlyList<MiniImageNetRow> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"mini-ImageNet split file not found: {Path.GetFullPath(path)}. {MiniImageNetDataset.DownloadHint}", path);
        var rows = new List<MiniImageNetRow>();
        int line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            string text = raw.Trim();
            if (text.Length == 0) continue;
            if (line == 1 && text.Equals(Header, StringComparison.OrdinalIgnoreCase)) continue;
            string[] fields = text.Split(',');
            if (fields.Length != 2 || fields.Any(f => f.Trim().Length == 0))
                throw new InvalidDataException($"{path} line {line}: expected '{Header}' (e.g. n0153282900000005.jpg,n01532829) but found '{text}'.");
            string file = fields[0].Trim(), label = fields[1].Trim();
            // Names stay inside images/: a row cannot point the loader at files elsewhere.
            if (Path.IsPathRooted(file) || file.Split('/', '\\').Contains(".."))
                throw new InvalidDataException($"{path} line {line}: '{file}' must be a file name inside the images folder.");
            rows.Add(new MiniImageNetRow(path, line, file, label));
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"{path} lists no images; expected a '{Header}' header and one row per image. {MiniImageNetDataset.DownloadHint}");
        return rows;
    }
}
