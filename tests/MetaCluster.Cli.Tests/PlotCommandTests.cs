using MetaCluster.Cli.Output;
using StbImageSharp;

namespace MetaCluster.Cli.Tests;

/// <summary><c>metacluster plot</c>: JSON lines → series (nested fields, filters, re-run points) → a PNG; unknown fields are errors that list the fields there are.</summary>
public sealed class PlotCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-plot-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(params string[] lines)
    {
        string path = Path.Combine(_directory, "curves.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void SeriesComeFromTheLabelFieldsWithNestedValuesFiltersAndTheLastPointOfARepeatedX()
    {
        string path = Write(
            "progress text is skipped",
            """{"algorithm":"fedavg","round":10,"eval":{"mean":0.5},"ways":5}""",
            """{"algorithm":"fedavg","round":0,"eval":{"mean":0.2},"ways":5}""",
            """{"algorithm":"fedmeta","round":10,"eval":{"mean":0.7},"ways":5}""",
            """{"algorithm":"fedavg","round":10,"eval":{"mean":0.6},"ways":5}""",
            """{"algorithm":"fedavg","round":10,"eval":{"mean":0.9},"ways":20}""",
            """{"algorithm":"fedavg","final":true}""");
        var series = JsonlCurves.Read([path], new JsonlCurves.Selection("round", "eval.mean", ["algorithm"], [("ways", "5")], YScale: 100));
        Assert.Equal(["fedavg", "fedmeta"], series.Select(s => s.Label));
        Assert.Equal([0.0, 10.0], series[0].X);
        Assert.Equal([20.0, 60.0], series[0].Y.Select(y => Math.Round(y, 9)));
        Assert.Equal([70.0], series[1].Y.Select(y => Math.Round(y, 9)));
    }

    [Fact]
    public void TheFileKeyNamesEachLineByItsInputFileAndXScaleRescalesX()
    {
        // Each long run (learning_curve.sh) prints its own file: :file tells them apart where their fields do not.
        string maml = Path.Combine(_directory, "maml-5w1s.jsonl"), mamlpp = Path.Combine(_directory, "mamlpp-5w1s.jsonl");
        File.WriteAllLines(maml, ["""{"algorithm":"maml","train_wall_seconds":3600,"acc":0.8}""", """{"algorithm":"maml","train_wall_seconds":7200,"acc":0.85}"""]);
        File.WriteAllLines(mamlpp, ["""{"algorithm":"maml","train_wall_seconds":1800,"acc":0.9}"""]);
        var series = JsonlCurves.Read([maml, mamlpp], new JsonlCurves.Selection("train_wall_seconds", "acc", [JsonlCurves.FileKey, "algorithm"], [], XScale: 1 / 3600.0));
        Assert.Equal(["maml-5w1s, maml", "mamlpp-5w1s, maml"], series.Select(s => s.Label));
        Assert.Equal([1.0, 2.0], series[0].X.Select(v => Math.Round(v, 12)));
        Assert.Equal([0.5], series[1].X.Select(v => Math.Round(v, 12)));

        // Through the verb too: the key must survive System.CommandLine's parsing (it would read "@file" as a response file).
        string png = Path.Combine(_directory, "runs.png");
        var (code, stdout, stderr) = CliRunner.Run("plot", "--input", maml, mamlpp, "--x", "train_wall_seconds", "--y", "acc", "--series", ":file", "--x-scale", "0.000277778", "--out", png);
        Assert.True(code == 0, stderr);
        Assert.Contains("2 line(s), 3 points", stdout);

        (code, _, stderr) = CliRunner.Run("plot", "--input", maml, "--x", "train_wall_seconds", "--y", "acc", "--x-scale", "0");
        Assert.Equal(2, code);
        Assert.Contains("--x-scale must be a finite number other than 0 (got 0)", stderr);
    }

    [Fact]
    public void ANumberInThePathIndexesAnArray()
    {
        // evaluate --json keeps its results in an array, one per batch-norm mode.
        string path = Write(
            """{"round":500,"evaluation":{"results":[{"accuracy":{"mean":0.9}},{"accuracy":{"mean":0.8}}]}}""",
            """{"round":1000,"evaluation":{"results":[{"accuracy":{"mean":0.95}}]}}""",
            """{"round":1500,"evaluation":{"results":[]}}""");
        var first = JsonlCurves.Read([path], new JsonlCurves.Selection("round", "evaluation.results.0.accuracy.mean", [], [], YScale: 1));
        Assert.Equal([500.0, 1000.0], first.Single().X);
        Assert.Equal([0.9, 0.95], first.Single().Y);
        var second = JsonlCurves.Read([path], new JsonlCurves.Selection("round", "evaluation.results.1.accuracy.mean", [], [], YScale: 1));
        Assert.Equal([0.8], second.Single().Y);
    }

    [Fact]
    public void ThePlotVerbWritesAPngAndNamesTheFieldsWhenOneIsMissing()
    {
        string path = Write("""{"method":"protonet","iteration":100,"accuracy":0.9}""", """{"method":"protonet","iteration":200,"accuracy":0.95}""");
        string png = Path.Combine(_directory, "chart.png");
        var (code, _, stderr) = CliRunner.Run("plot", "--input", path, "--x", "iteration", "--y", "accuracy", "--series", "method", "--out", png);
        Assert.True(code == 0, stderr);
        var image = ImageResult.FromMemory(File.ReadAllBytes(png), ColorComponents.RedGreenBlue);
        Assert.Equal((800, 500), (image.Width, image.Height));

        (code, _, stderr) = CliRunner.Run("plot", "--input", path, "--x", "iteration", "--y", "acc");
        Assert.Equal(2, code);
        Assert.Contains("no line has both a numeric 'iteration' and 'acc'", stderr);
        Assert.Contains("accuracy, iteration, method", stderr);

        (code, _, stderr) = CliRunner.Run("plot", "--input", path, "--x", "iteration", "--y", "accuracy", "--legend", "middle", "--out", png);
        Assert.Equal(2, code);
        Assert.Contains("--legend is upper-left, upper-right, lower-left, lower-right or middle-right (got 'middle')", stderr);
    }
}
