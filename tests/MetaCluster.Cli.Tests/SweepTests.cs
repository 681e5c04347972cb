using System.Globalization;
using System.Text.Json;
using StbImageSharp;

namespace MetaCluster.Cli.Tests;

/// <summary><c>bench --sweep</c> as a user runs it: one JSON line per point, and a CSV and a PNG per sweep.</summary>
public sealed class SweepTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private const string ThroughputHeader = "meta_batch,inner_steps,workers,path,mode,threads,iterations,seconds,meta_iters_per_s,tasks_per_s,train_loss_last100";
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-sweep-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TinySweepWritesACsvAndAPngPerSweep()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "--sweep", "--sweep-meta-batch", "1,4", "--sweep-inner-steps", "1,2",
            "--sweep-workers", "1,2", "--point-tasks", "8", "--iterations", "12", "--out", _directory, "--plot-size", "400x250");
        Assert.True(code == 0, $"exit {code}: {stderr}");

        var lines = stdout.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var bySweep = lines.GroupBy(l => l.GetProperty("sweep").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(4, bySweep["meta-batch"].Count);     // 2 sizes × loop and batched
        Assert.Equal(2, bySweep["inner-steps"].Count);
        Assert.Equal(3, bySweep["workers"].Count);        // 1 and 2 slots through grains, and the in-process trainer
        Assert.Equal(12, bySweep["learning-curve"].Count); // fewer than 20 rounds: a line a round
        foreach (var point in lines.Where(l => l.GetProperty("sweep").GetString() != "learning-curve"))
        {
            foreach (string field in new[] { "algo", "mode", "iterations", "meta_batch", "k", "inner_steps", "threads", "seed", "seconds", "meta_iters_per_s", "tasks_per_s", "engine" })
                Assert.True(point.TryGetProperty(field, out _), $"missing {field} in {point}");
            Assert.True(point.GetProperty("tasks_per_s").GetDouble() > 0);
        }
        Assert.Equal([1, 4, 1, 4], bySweep["meta-batch"].Select(l => l.GetProperty("meta_batch").GetInt32()));
        Assert.Equal(["loop", "loop", "batched", "batched"], bySweep["meta-batch"].Select(l => l.GetProperty("mode").GetString()));
        Assert.Equal([1, 2], bySweep["workers"].Where(l => l.GetProperty("path").GetString() == "cluster").Select(l => l.GetProperty("live_workers").GetInt32()));

        AssertThroughputCsv("meta-batch", rows: 4, swept: 0, [1, 4, 1, 4]);
        AssertThroughputCsv("inner-steps", rows: 2, swept: 1, [1, 2]);
        AssertThroughputCsv("workers", rows: 3, swept: 2, [1, 2, 1]);

        var curve = ReadCsv("learning-curve");
        Assert.Equal("round,seconds,learning_rate,pre_loss,post_loss,pre_acc,post_acc", curve.Header);
        Assert.Equal(12, curve.Rows.Count);
        Assert.Equal(Enumerable.Range(1, 12).Select(r => r.ToString(CultureInfo.InvariantCulture)), curve.Rows.Select(r => r[0]));
        foreach (var row in curve.Rows)
        {
            Assert.True(Number(row[3]) > 0 && Number(row[4]) > 0, string.Join(',', row)); // query MSE before and after adaptation
            Assert.Equal("", row[5]);                                                        // regression: no accuracy
        }

        foreach (string name in new[] { "meta-batch", "inner-steps", "workers", "learning-curve" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(_directory, $"sweep-{name}.png"));
            Assert.Equal(PngSignature, png.Take(8));
            var image = ImageResult.FromMemory(png, ColorComponents.RedGreenBlueAlpha);
            Assert.Equal((400, 250), (image.Width, image.Height));
            Assert.True(image.Data.Distinct().Count() > 2, $"sweep-{name}.png is blank"); // lines, text and background
        }
    }

    [Fact]
    public void SweepsWithoutListsUseTheDefaultPoints()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "--sweep", "meta-batch,inner-steps", "--point-tasks", "8", "--out", _directory,
            "--plot-size", "400x250");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        var lines = stdout.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        int[] Values(string sweep, string field) =>
            lines.Where(l => l.GetProperty("sweep").GetString() == sweep).Select(l => l.GetProperty(field).GetInt32()).ToArray();
        // 1, 5, 10, 25, 50, 100 tasks one at a time, then batched; 1, 2, 5, 10 inner steps.
        Assert.Equal([1, 5, 10, 25, 50, 100, 1, 5, 10, 25, 50, 100], Values("meta-batch", "meta_batch"));
        Assert.Equal([1, 2, 5, 10], Values("inner-steps", "inner_steps"));
    }

    [Fact]
    public void SweepNamesAreChecked()
    {
        var (code, _, stderr) = CliRunner.Run("bench", "--sweep", "meta-batch,speed", "--out", _directory);
        Assert.NotEqual(0, code);
        Assert.Contains("--sweep takes meta-batch, inner-steps, workers, learning-curve", stderr);
        (code, _, stderr) = CliRunner.Run("bench", "--sweep-workers", "1,2");
        Assert.NotEqual(0, code);
        Assert.Contains("--sweep-workers only applies with --sweep", stderr);
    }

    private void AssertThroughputCsv(string name, int rows, int swept, int[] values)
    {
        var csv = ReadCsv(name);
        Assert.Equal(ThroughputHeader, csv.Header);
        Assert.Equal(rows, csv.Rows.Count);
        Assert.Equal(values, csv.Rows.Select(r => int.Parse(r[swept], CultureInfo.InvariantCulture)));
        foreach (var row in csv.Rows)
            foreach (int column in new[] { 6, 7, 8, 9 }) // iterations, seconds, meta_iters_per_s, tasks_per_s
                Assert.True(Number(row[column]) > 0, $"{name}: {string.Join(',', row)}");
    }

    private (string Header, List<string[]> Rows) ReadCsv(string name)
    {
        var lines = File.ReadAllLines(Path.Combine(_directory, $"sweep-{name}.csv"));
        return (lines[0], lines.Skip(1).Select(l => l.Split(',')).ToList());
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}
