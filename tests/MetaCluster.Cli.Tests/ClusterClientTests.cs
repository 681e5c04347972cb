using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Tests;

/// <summary>`train --cluster`, `status` and `cancel` as clients of a cluster the test runs (static gateway list).</summary>
public sealed class ClusterClientTests(TestSilo silo) : IClassFixture<TestSilo>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-client-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TrainAsAClientOfARunningClusterGivesTheInProcessThetaAndStatusShowsTheRun()
    {
        string runId = $"client-{Guid.NewGuid():N}";
        var trained = CliRunner.Json("train", "--cluster", silo.Address, "--run-id", runId, "--checkpoint-dir", Path.Combine(_directory, "client"),
            "--iterations", "5", "--meta-batch", "6", "--json", "--no-eval");
        Assert.Equal("cluster", trained.GetProperty("engine_path").GetString());
        Assert.Equal(runId, trained.GetProperty("run_id").GetString());
        Assert.Equal(2, trained.GetProperty("workers").GetInt32());

        var config = TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 5, MetaBatch = 6 };
        var trainer = new MetaTrainer(RunFactory.Create(config));
        while (!trainer.Finished) trainer.RunRound();
        Assert.Equal(trainer.Theta.Sha256(), trained.GetProperty("theta_sha256").GetString());
        var copied = Checkpoint.Load(Path.Combine(_directory, "client", Checkpoint.FileName));
        Assert.Equal(trainer.Theta.Sha256(), copied.Theta.Sha256());
        // The remote coordinator timed the rounds; the copy here carries that time and train reports it.
        Assert.True(copied.TrainingSeconds > 0);
        Assert.Equal(Math.Round(copied.TrainingSeconds!.Value, 3), trained.GetProperty("train_wall_seconds").GetDouble());

        var status = CliRunner.Json("status", "--run", runId, "--cluster", $"localhost:{silo.GatewayPort}", "--json");
        Assert.Equal("completed", status.GetProperty("state").GetString());
        Assert.Equal(5, status.GetProperty("round").GetInt64());
        Assert.Equal(2, status.GetProperty("live_workers").GetInt32());
    }

    [Fact]
    public async Task StatusAndCancelReachARunningRun()
    {
        string runId = $"long-{Guid.NewGuid():N}";
        var client = new ClusterTrainingClient(silo.Grains);
        var config = TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 1_000_000, MetaBatch = 4, CheckpointEvery = 1_000_000 };
        await client.StartAsync(runId, config, new ClusterRunOptions(Path.Combine(_directory, "long")));

        var (code, stdout, stderr) = CliRunner.Run("status", "--run", runId, "--cluster", silo.Address);
        Assert.True(code == 0, stderr);
        Assert.Contains("running", stdout);
        Assert.Contains(runId, stdout);

        var cancelled = CliRunner.Json("cancel", "--run", runId, "--cluster", silo.Address, "--wait", "--json");
        Assert.Equal("cancelled", cancelled.GetProperty("state").GetString());
        long round = cancelled.GetProperty("round").GetInt64();
        Assert.True(round > 0 && round < config.Iterations);
        Assert.Equal(round, cancelled.GetProperty("checkpoint_round").GetInt64());
        Assert.Equal(round, Checkpoint.Load(Path.Combine(_directory, "long", Checkpoint.FileName)).Round);
        Assert.Equal(RunState.Cancelled, (await client.GetStatusAsync(runId)).State);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("cancel")]
    public void AnUnknownRunIsOneErrorLine(string verb)
    {
        var (code, stdout, stderr) = CliRunner.Run(verb, "--run", "no-such-run", "--cluster", silo.Address, "--json");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("no-such-run", stderr);
    }

    [Fact]
    public void AClusterThatIsNotThereIsOneErrorLine()
    {
        var (code, stdout, stderr) = CliRunner.Run("status", "--run", "x", "--cluster", $"127.0.0.1:{TestSilo.FreePort()}");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: cannot connect to the cluster at 127.0.0.1:", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
