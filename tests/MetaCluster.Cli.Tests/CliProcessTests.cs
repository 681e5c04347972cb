using System.Text.Json;

namespace MetaCluster.Cli.Tests;

/// <summary>Runs the built `metacluster` in child processes: what a user sees, exit codes and bit-for-bit reproducibility.</summary>
public sealed class CliProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments) => CliRunner.Run(arguments);

    private JsonElement Train(string directory, params string[] extra)
    {
        var (code, stdout, stderr) = Run(["train", "--checkpoint-dir", Path.Combine(_directory, directory), "--json", "--no-eval", "--meta-batch", "5", .. extra]);
        Assert.True(code == 0, stderr);
        Assert.Single(stdout.Trim().Split('\n'));
        return JsonDocument.Parse(stdout).RootElement;
    }

    [Fact]
    public void StoppedAndResumedRunEndsWithTheSameThetaAsAStraightRun()
    {
        string straight = Train("straight", "--iterations", "60").GetProperty("theta_sha256").GetString()!;
        string again = Train("again", "--iterations", "60").GetProperty("theta_sha256").GetString()!;
        var stopped = Train("resumed", "--iterations", "25");
        var resumed = Train("resumed", "--resume", "--iterations", "60");
        Assert.Equal(straight, again);
        Assert.Equal(straight, resumed.GetProperty("theta_sha256").GetString());
        Assert.Equal(60, resumed.GetProperty("iterations").GetInt32());
        Assert.Equal(35, resumed.GetProperty("iterations_this_run").GetInt32());

        // The whole run's training time, from the checkpoint: the first part's rounds, then the resumed part's added.
        // Each part's own "seconds" also counts the command's time between rounds, so it bounds its share from above.
        double Seconds(JsonElement json, string name) => json.GetProperty(name).GetDouble();
        double before = Seconds(stopped, "train_wall_seconds"), after = Seconds(resumed, "train_wall_seconds");
        Assert.InRange(before, 1e-6, Seconds(stopped, "seconds") + 0.002);
        Assert.InRange(after - before, 1e-6, Seconds(resumed, "seconds") + 0.002);
    }

    [Fact]
    public void TrainThenEvaluateReportsTheSameEvaluation()
    {
        var (code, stdout, stderr) = Run("train", "--checkpoint-dir", _directory, "--iterations", "10", "--eval-episodes", "20", "--json");
        Assert.True(code == 0, stderr);
        var trained = JsonDocument.Parse(stdout).RootElement;
        var steps = trained.GetProperty("evaluation").GetProperty("results").EnumerateArray().Select(r => r.GetProperty("steps").GetInt32());
        Assert.Equal([0, 1, 10], steps);

        (code, stdout, stderr) = Run("evaluate", "--checkpoint", Path.Combine(_directory, "checkpoint.mcc"), "--episodes", "20", "--json");
        Assert.True(code == 0, stderr);
        var evaluated = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(trained.GetProperty("theta_sha256").GetString(), evaluated.GetProperty("theta_sha256").GetString());
        Assert.Equal(trained.GetProperty("evaluation").GetRawText(), evaluated.GetProperty("evaluation").GetRawText());
        // evaluate reads the run's training time from the checkpoint: the figure train printed.
        Assert.True(evaluated.GetProperty("train_wall_seconds").GetDouble() > 0);
        Assert.Equal(trained.GetProperty("train_wall_seconds").GetDouble(), evaluated.GetProperty("train_wall_seconds").GetDouble());
    }

    [Fact]
    public void EvaluateInnerLrChangesTheAdaptationAndDivergedTasksAreCountedNotAveraged()
    {
        Train("sine", "--iterations", "10", "--in-process");
        string checkpoint = Path.Combine(_directory, "sine", "checkpoint.mcc");
        JsonElement[] Evaluate(params string[] extra)
        {
            var (code, stdout, stderr) = Run(["evaluate", "--checkpoint", checkpoint, "--episodes", "20", "--json", .. extra]);
            Assert.True(code == 0, stderr);
            Assert.DoesNotContain("NaN", stdout);
            Assert.DoesNotContain("Infinity", stdout);
            var json = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal(extra.Length > 0 ? double.Parse(extra[1], System.Globalization.CultureInfo.InvariantCulture) : 0.01, json.GetProperty("inner_lr").GetDouble());
            return json.GetProperty("evaluation").GetProperty("results").EnumerateArray().ToArray();
        }

        // The training rate (0.01): nothing diverges.
        var trained = Evaluate();
        Assert.All(trained, r => Assert.Equal(0, r.GetProperty("diverged").GetInt32()));
        // 0.5: some of the 20 tasks blow up over 10 steps; the mean is over the others, and finite.
        var large = Evaluate("--inner-lr", "0.5");
        Assert.Equal(trained[0].GetProperty("mse").GetRawText(), large[0].GetProperty("mse").GetRawText()); // 0 steps: the rate is unused
        Assert.NotEqual(trained[1].GetProperty("mse").GetRawText(), large[1].GetProperty("mse").GetRawText());
        int diverged = large[2].GetProperty("diverged").GetInt32();
        Assert.InRange(diverged, 1, 19);
        Assert.True(double.IsFinite(large[2].GetProperty("mse").GetProperty("mean").GetDouble()));
        // A huge rate: every task diverges after 10 steps, and there is no mean.
        var huge = Evaluate("--inner-lr", "1000");
        Assert.Equal(20, huge[2].GetProperty("diverged").GetInt32());
        Assert.Equal(JsonValueKind.Null, huge[2].GetProperty("mse").ValueKind);

        var (exit, table, _) = Run("evaluate", "--checkpoint", checkpoint, "--episodes", "20", "--inner-lr", "1000");
        Assert.Equal(0, exit);
        Assert.Contains("all 20 diverged", table);
        Assert.Contains("20 of 20", table);
        Assert.Contains("1000 (the run trained with 0.01)", table);
        Assert.DoesNotContain("NaN", table);

        Train("metasgd", "--iterations", "2", "--in-process", "--algorithm", "metasgd");
        var (code, _, stderr) = Run("evaluate", "--checkpoint", Path.Combine(_directory, "metasgd", "checkpoint.mcc"), "--episodes", "2", "--inner-lr", "0.1");
        Assert.Equal(2, code);
        Assert.Contains("--inner-lr does not apply to metasgd", stderr);
    }

    [Fact]
    public void BenchPrintsThePeerFields()
    {
        var (code, stdout, stderr) = Run("bench", "--iterations", "5", "--eval-tasks", "10");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        foreach (string field in new[] { "algo", "mode", "iterations", "meta_batch", "k", "inner_steps", "threads", "seed", "seconds",
                     "meta_iters_per_s", "tasks_per_s", "train_loss_last100", "eval", "peak_rss_mb", "engine", "torch", "batching",
                     "round_seconds_min", "round_seconds_median" })
            Assert.True(json.TryGetProperty(field, out _), $"missing {field}");
        Assert.Equal("auto", json.GetProperty("batching").GetString());
        Assert.Equal("batched", json.GetProperty("mode").GetString()); // auto batches MLP models
        foreach (string field in new[] { "tasks", "eval_seed", "mse_0step", "mse_1step", "mse_10step" })
            Assert.True(json.GetProperty("eval").TryGetProperty(field, out _), $"missing eval.{field}");
        Assert.Equal("maml", json.GetProperty("algo").GetString());
        Assert.Equal("metacluster", json.GetProperty("engine").GetString());
    }

    [Fact]
    public void AggregationBenchReportsThroughputAndTheRoundsBytes()
    {
        var (code, stdout, stderr) = Run("bench", "--aggregation", "--parameters", "1000", "--contributions", "50", "--meta-batch", "8", "--workers", "2");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("aggregation", json.GetProperty("bench").GetString());
        Assert.True(json.GetProperty("contributions_per_s").GetDouble() > 0);
        Assert.Equal(8 * 1000 * 4, json.GetProperty("round_bytes_per_episode_vectors").GetInt64()); // float32 per episode
        // Per worker a header and 6 bytes a value: a share of 4 vectors of |values| < 1 reaches past 2^39 units (0.5), never 2^47.
        Assert.Equal(6, json.GetProperty("wire_bytes_per_value").GetInt32());
        Assert.Equal(2 * (8 + 1000 * 6), json.GetProperty("round_bytes_presummed").GetInt64());
        Assert.True(json.GetProperty("wire_write_ms").GetDouble() > 0 && json.GetProperty("wire_add_ms").GetDouble() > 0);
        // A node's 8 slots adding into one sum at once, behind one lock and stripe by stripe.
        Assert.Equal(8, json.GetProperty("shared_sum_adders").GetInt32());
        Assert.True(json.GetProperty("shared_adds_per_s_one_lock").GetDouble() > 0 && json.GetProperty("shared_adds_per_s_striped").GetDouble() > 0);
    }

    [Fact]
    public void CoordinatorBenchRunsItsRoundsThroughGrainsWithInstantWorkers()
    {
        var (code, stdout, stderr) = Run("bench", "--coordinator", "--workers", "2", "--iterations", "3", "--meta-batch", "4");
        Assert.True(code == 0, stderr);
        var lines = stdout.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["per-episode", "pre-summed"], lines.Select(j => j.GetProperty("wire").GetString()));
        foreach (var json in lines)
        {
            Assert.Equal("coordinator", json.GetProperty("bench").GetString());
            Assert.Equal(3, json.GetProperty("completed_rounds").GetInt64());
            Assert.Equal(112_893, json.GetProperty("parameters").GetInt32()); // 1-334-334-1: about a 5-way Conv4
            Assert.True(json.GetProperty("contributions_per_s").GetDouble() > 0);
        }
        Assert.Equal(4L * 112_893 * 4, lines[0].GetProperty("contribution_bytes_per_round").GetInt64());   // float32 per episode
        // Per worker a header (count and width) and w bytes a value, w the fewest that hold its sum's units (1 to 8).
        long perShare = lines[1].GetProperty("contribution_bytes_per_round").GetInt64() / 2 - 8;
        Assert.True(perShare % 112_893 == 0 && perShare / 112_893 is >= 1 and <= 8, $"{perShare} bytes of units a share");
    }

    [Theory]
    [InlineData("train", "--ways", "0")]
    [InlineData("evaluate", "--checkpoint", "no/such/checkpoint.mcc")]
    [InlineData("train", "--algorithm", "nope")]
    public void BadInputIsOneErrorLineAndExitCode2(params string[] arguments)
    {
        var (code, stdout, stderr) = Run([.. arguments, "--json"]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
