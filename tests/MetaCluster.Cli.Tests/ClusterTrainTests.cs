namespace MetaCluster.Cli.Tests;

/// <summary>`train` through grains (the embedded silo) against `train --in-process`: the same θ bits.</summary>
public sealed class ClusterTrainTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-cluster-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Train(string name, params string[] extra)
    {
        var json = CliRunner.Json(["train", "--checkpoint-dir", Path.Combine(_directory, name), "--json", "--no-eval", "--iterations", "5", "--meta-batch", "6", .. extra]);
        Assert.Equal(5, json.GetProperty("iterations").GetInt32());
        return json.GetProperty("theta_sha256").GetString()!;
    }

    [Fact]
    public void TheEmbeddedClusterGivesTheInProcessTrainersTheta()
    {
        var cluster = CliRunner.Json("train", "--checkpoint-dir", Path.Combine(_directory, "cluster"), "--json", "--no-eval",
            "--iterations", "5", "--meta-batch", "6", "--workers", "2");
        Assert.Equal("cluster", cluster.GetProperty("engine_path").GetString());
        Assert.Equal(2, cluster.GetProperty("workers").GetInt32());
        Assert.Equal(0, cluster.GetProperty("redispatched").GetInt64());
        Assert.StartsWith("sinusoid-maml-", cluster.GetProperty("run_id").GetString());

        string inProcess = Train("in-process", "--in-process");
        Assert.Equal(inProcess, cluster.GetProperty("theta_sha256").GetString());
    }

    [Fact]
    public void OneAndThreeWorkersGiveTheSameTheta()
    {
        string one = Train("one", "--workers", "1", "--algorithm", "reptile");
        string three = Train("three", "--workers", "3", "--algorithm", "reptile");
        Assert.Equal(one, three);
    }

    [Fact]
    public void AClusterRunResumedFromItsCheckpointEndsWithTheStraightRunsTheta()
    {
        string straight = Train("straight", "--in-process");
        CliRunner.Json("train", "--checkpoint-dir", Path.Combine(_directory, "resumed"), "--json", "--no-eval", "--iterations", "2", "--meta-batch", "6");
        var resumed = CliRunner.Json("train", "--checkpoint-dir", Path.Combine(_directory, "resumed"), "--json", "--no-eval", "--iterations", "5", "--resume");
        Assert.Equal(3, resumed.GetProperty("iterations_this_run").GetInt32());
        Assert.Equal(straight, resumed.GetProperty("theta_sha256").GetString());
    }

    /// <summary>
    /// The time limit stops a cluster run through the client loop's stop: the coordinator finishes the round in flight,
    /// checkpoints, and θ is that of the rounds reached, every one of them reported.
    /// </summary>
    [Fact]
    public void TheTimeLimitStopsAClusterRunWithACheckpointAndTheThetaOfTheRoundsReached()
    {
        string directory = Path.Combine(_directory, "limited");
        var json = CliRunner.Json("train", "--checkpoint-dir", directory, "--json", "--no-eval", "--iterations", "1000000", "--meta-batch", "4",
            "--checkpoint-every", "0", "--time-limit", "0.03");
        long reached = json.GetProperty("iterations").GetInt64();
        Assert.InRange(reached, 1, 999_999);
        Assert.Equal(reached, json.GetProperty("iterations_this_run").GetInt64());
        var checkpoint = Core.Training.Checkpoint.Load(Path.Combine(directory, Core.Training.Checkpoint.FileName));
        Assert.Equal(reached, checkpoint.Round);
        Assert.Equal(checkpoint.Theta.Sha256(), json.GetProperty("theta_sha256").GetString());

        var config = checkpoint.Config with { Iterations = (int)reached };
        var trainer = new Core.Training.MetaTrainer(Core.Training.RunFactory.Create(config));
        while (!trainer.Finished) trainer.RunRound();
        Assert.Equal(trainer.Theta.Sha256(), json.GetProperty("theta_sha256").GetString());
    }

    [Theory]
    [InlineData("--in-process", "--workers", "2")]
    [InlineData("--in-process", "--cluster", "localhost:30000")]
    [InlineData("--cluster", "localhost:30000", "--gateway-port", "30001")]
    [InlineData("--cluster", "http://example.org")]
    [InlineData("--workers", "0")]
    public void ContradictoryEngineOptionsAreOneErrorLine(params string[] arguments)
    {
        var (code, stdout, stderr) = CliRunner.Run(["train", "--checkpoint-dir", Path.Combine(_directory, "bad"), "--json", .. arguments]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
