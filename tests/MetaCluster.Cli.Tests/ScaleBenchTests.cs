using MetaCluster.Contracts;
using StbImageSharp;

namespace MetaCluster.Cli.Tests;

/// <summary><c>bench --scale-plot</c> draws bench/scale.sh's lines; scale options without --scale are refused by name.</summary>
public sealed class ScaleBenchTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-scale-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ARoundSplitsIntoTheCoordinatorsOwnTimeTheWaitTheWireAndTheWorkerByMedians()
    {
        // Rounds of 100/110/130/90 ms, dispatched over 96/100/125/85 ms, whose last calls took 95/100/120/85 ms, 80/81/85/82
        // ms of them inside the worker; the round without a call (in-process) is left out. Medians, by hand: coordinator
        // (4, 10, 5, 5) → 5 ms, waiting (1, 0, 5, 0) → 0.5 ms, outside (15, 19, 35, 3) → 17 ms, worker (80, 81, 85, 82) → 81.5 ms.
        RoundMetrics Round(double seconds, double? dispatch, double? call, double? worker) =>
            new() { Seconds = seconds, DispatchSeconds = dispatch, LastCallSeconds = call, LastWorkerSeconds = worker };
        var split = MetaCluster.Cli.Commands.RoundSplit.Medians(
        [
            Round(0.100, 0.096, 0.095, 0.080), Round(0.110, 0.100, 0.100, 0.081), Round(0.130, 0.125, 0.120, 0.085), Round(0.090, 0.085, 0.085, 0.082),
            Round(0.5, null, null, null),
        ]);
        Assert.Equal(0.005, split.Coordinator, 9);
        Assert.Equal(0.0005, split.Waiting, 9);
        Assert.Equal(0.017, split.Outside, 9);
        Assert.Equal(0.0815, split.Worker, 9);
        Assert.True(double.IsNaN(MetaCluster.Cli.Commands.RoundSplit.Medians([Round(0.1, null, null, null)]).Worker)); // no call timed: no figure
    }

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
