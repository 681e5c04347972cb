using System.Text.Json;
using MetaCluster.Core.Tests;

namespace MetaCluster.Cli.Tests;

/// <summary>`adapt`: a meta-trained classifier fine-tuned on a user's few labelled images classifies their new images.</summary>
public sealed class AdaptTests : IDisposable
{
    private const int Size = 28;
    private readonly TestCheckpoints _runs = new("metacluster-adapt-");

    public void Dispose() => _runs.Dispose();

    /// <summary>Two well-separated classes: dark images with a faint speck, and white images with a dark bar.</summary>
    private void WriteImage(string relativePath, string kind, int variant)
    {
        var gray = new byte[Size * Size];
        if (kind == "dark")
        {
            gray[(3 + 5 * variant) % (Size * Size)] = 40;
        }
        else
        {
            Array.Fill(gray, (byte)255);
            int row = 6 + 3 * variant % 16;
            for (int x = 4; x < Size - 4; x++) (gray[row * Size + x], gray[(row + 1) * Size + x]) = (0, 0);
        }
        string path = _runs.PathOf(relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, TestPng.Encode(gray, Size, Size));
    }

    private string TrainClassifier(params string[] extra)
    {
        for (int i = 0; i < 4; i++)
        {
            WriteImage($"train/dark/{i}.png", "dark", i);
            WriteImage($"train/light/{i}.png", "light", i);
        }
        _runs.Train("run", ["--dataset", "folder", "--data", _runs.PathOf("train"), "--ways", "2", "--shots", "1", "--queries", "2",
            "--meta-batch", "2", "--iterations", "3", "--in-process", .. extra]);
        return _runs.Checkpoint("run");
    }

    [Fact]
    public void AdaptedOnAFewImagesItClassifiesNewOnesAndPrintsThePredictions()
    {
        string checkpoint = TrainClassifier();
        for (int i = 0; i < 2; i++)
        {
            WriteImage($"support/dark/{i}.png", "dark", 10 + i);
            WriteImage($"support/light/{i}.png", "light", 10 + i);
            WriteImage($"query/dark/{i}.png", "dark", 20 + i);
            WriteImage($"query/light/{i}.png", "light", 20 + i);
        }
        WriteImage("query/unlabelled.png", "light", 30);
        string[] arguments = ["adapt", "--checkpoint", checkpoint, "--support", _runs.PathOf("support"), "--query", _runs.PathOf("query"), "--steps", "5"];

        var json = CliRunner.Json([.. arguments, "--json"]);
        Assert.Equal(["dark", "light"], json.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("non-transductive", json.GetProperty("batch_norm").GetString());
        var predictions = json.GetProperty("predictions").EnumerateArray().ToArray();
        Assert.Equal(5, predictions.Length);
        Assert.Equal("unlabelled.png", predictions[0].GetProperty("file").GetString());
        Assert.Equal(JsonValueKind.Null, predictions[0].GetProperty("truth").ValueKind);
        Assert.Equal("light", predictions[0].GetProperty("predicted").GetString());
        foreach (var p in predictions.Skip(1))
        {
            Assert.Equal(p.GetProperty("truth").GetString(), p.GetProperty("predicted").GetString());
            double probability = p.GetProperty("probability").GetDouble();
            Assert.InRange(probability, 0.5, 1.0);
            Assert.Equal(1.0, p.GetProperty("probabilities").EnumerateObject().Sum(c => c.Value.GetDouble()), 4);
        }
        Assert.Equal(1.0, json.GetProperty("accuracy").GetDouble());

        var (code, stdout, stderr) = CliRunner.Run(arguments);
        Assert.True(code == 0, stderr);
        Assert.Contains("unlabelled.png", stdout);
        Assert.Contains(Path.Combine("dark", "0.png"), stdout);
        Assert.Contains("accuracy 4/4", stdout);

        // With a huge inner rate the adapted model's outputs are not finite: counted as diverged, no NaN printed.
        var diverged = CliRunner.Json([.. arguments, "--inner-lr", "1e30", "--json"]);
        Assert.Equal(1e30, diverged.GetProperty("inner_lr").GetDouble());
        Assert.Equal(5, diverged.GetProperty("diverged").GetInt32());
        Assert.Equal(JsonValueKind.Null, diverged.GetProperty("accuracy").ValueKind);
        Assert.All(diverged.GetProperty("predictions").EnumerateArray(), p =>
        {
            Assert.True(p.GetProperty("diverged").GetBoolean());
            Assert.Equal(JsonValueKind.Null, p.GetProperty("predicted").ValueKind);
        });
        Assert.DoesNotContain("NaN", diverged.GetRawText());
        (code, stdout, stderr) = CliRunner.Run([.. arguments, "--inner-lr", "1e30"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("adaptation diverged", stdout);
        Assert.DoesNotContain("NaN", stdout);
    }

    [Fact]
    public void AMamlPlusPlusCheckpointAdaptsWithItsLearnedRatesAndPerStepBatchNorm()
    {
        // The preset's meta-batch and query count overridden to fit the tiny folder; per-step BN and learned rates stay.
        string checkpoint = TrainClassifier("--maml++", "--inner-steps", "2", "--eval-steps", "2");
        for (int i = 0; i < 2; i++)
        {
            WriteImage($"support/dark/{i}.png", "dark", 10 + i);
            WriteImage($"support/light/{i}.png", "light", 10 + i);
            WriteImage($"query/dark/{i}.png", "dark", 20 + i);
            WriteImage($"query/light/{i}.png", "light", 20 + i);
        }
        string[] arguments = ["adapt", "--checkpoint", checkpoint, "--support", _runs.PathOf("support"), "--query", _runs.PathOf("query")];
        var json = CliRunner.Json([.. arguments, "--json"]);
        Assert.Equal(2, json.GetProperty("steps").GetInt32());
        Assert.Equal(4, json.GetProperty("predictions").GetArrayLength());
        Assert.Equal(1.0, json.GetProperty("accuracy").GetDouble());
        var (code, _, stderr) = CliRunner.Run([.. arguments, "--inner-lr", "0.1"]);
        Assert.NotEqual(0, code);
        Assert.Contains("--inner-lr does not apply to a run with --learned-inner-lr", stderr);
    }

    [Fact]
    public void ASupportSetWithAnotherNumberOfClassesThanTheCheckpointIsOneErrorLine()
    {
        string checkpoint = TrainClassifier();
        foreach (string c in new[] { "a", "b", "c" }) WriteImage($"support3/{c}/0.png", c == "a" ? "dark" : "light", 1);
        WriteImage("query3/x.png", "dark", 2);
        string stderr = CliRunner.Refused("adapt", "--checkpoint", checkpoint, "--support", _runs.PathOf("support3"), "--query", _runs.PathOf("query3"));
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("2-way classifier", stderr);
        Assert.Contains("3 class folder(s)", stderr);
    }

    [Fact]
    public void ARegressionCheckpointIsOneErrorLine()
    {
        _runs.Train("sine", "--iterations", "1", "--meta-batch", "2", "--in-process");
        WriteImage("support/dark/0.png", "dark", 0);
        WriteImage("support/light/0.png", "light", 0);
        string stderr = CliRunner.Refused("adapt", "--checkpoint", _runs.Checkpoint("sine"), "--support", _runs.PathOf("support"), "--query", _runs.PathOf("support"));
        Assert.StartsWith("error: adapt takes an image classifier", stderr);
    }
}
