using StbImageSharp;

namespace MetaCluster.Cli.Tests;

/// <summary><c>bench --scale-plot</c> draws bench/scale.sh's lines; scale options without --scale are refused by name.</summary>
public sealed class ScaleBenchTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-scale-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ScalePlotDrawsTheEfficiencyLinesIntoAPng()
    {
        string jsonl = Path.Combine(_directory, "scale.jsonl");
        File.WriteAllLines(jsonl,
        [
            "# a comment line is skipped",
            """{"bench":"scale","scaling":"strong","workers":1,"parameters":112893,"episode_ms":10,"efficiency":0.97}""",
            """{"bench":"scale","scaling":"strong","workers":4,"parameters":112893,"episode_ms":10,"efficiency":0.9}""",
            """{"bench":"scale","scaling":"strong","workers":1,"parameters":1102497,"episode_ms":10,"efficiency":0.4}""",
        ]);
        string png = Path.Combine(_directory, "chart.png");
        var (code, _, stderr) = CliRunner.Run("bench", "--scale-plot", jsonl, "--scale-png", png);
        Assert.True(code == 0, stderr);
        var image = ImageResult.FromMemory(File.ReadAllBytes(png), ColorComponents.RedGreenBlue);
        Assert.True(image.Width > 100 && image.Height > 100, $"{image.Width}×{image.Height}");
    }

    [Fact]
    public void ScaleOptionsWithoutScaleAndAPlotOfNoLinesAreErrorsNamingWhatIsWrong()
    {
        var (code, _, stderr) = CliRunner.Run("bench", "--episode-ms", "10");
        Assert.Equal(2, code);
        Assert.Contains("--episode-ms only applies with --scale", stderr);

        string empty = Path.Combine(_directory, "empty.jsonl");
        File.WriteAllText(empty, "{\"bench\":\"coordinator\"}\n");
        (code, _, stderr) = CliRunner.Run("bench", "--scale-plot", empty);
        Assert.Equal(2, code);
        Assert.Contains("holds no bench --scale lines", stderr);
    }
}
