using System.Text.Json;
using MetaCluster.Core.Tests;

namespace MetaCluster.Cli.Tests;

/// <summary>`train --dataset mini-imagenet` end to end on a generated 6/3/3-class set: it trains, checkpoints, evaluates on test.csv's classes.</summary>
public sealed class MiniImageNetCliTests : IDisposable
{
    private readonly TinyMiniImageNet _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public void TrainsAFewRoundsInProcess_CheckpointsThePublishedModel_AndEvaluatesOnTheTestClasses()
    {
        // The decoded cache goes under the test's folder, not the user's ~/.cache.
        var environment = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = _data.CacheDir };
        string runDir = Path.Combine(_data.Dir, "run");
        var (code, stdout, stderr) = CliRunner.Run(environment, "train", "--dataset", "mini-imagenet", "--data", _data.Dir,
            "--ways", "3", "--queries", "2", "--meta-batch", "2", "--inner-steps", "1", "--iterations", "2",
            "--in-process", "--no-eval", "--json", "--checkpoint-dir", runDir);
        Assert.True(code == 0, stderr);
        var trained = JsonDocument.Parse(stdout).RootElement;
        Assert.True(trained.GetProperty("completed").GetBoolean());
        Assert.Equal(2, trained.GetProperty("iterations").GetInt32());
        var config = trained.GetProperty("config");
        // Only what was given changed: the rest is Finn et al.'s mini-ImageNet MAML (32 filters, inner lr 0.01, 10 eval steps).
        Assert.Equal((32, 0.01, 10, "ravi"), (config.GetProperty("filters").GetInt32(), config.GetProperty("inner_lr").GetDouble(),
            config.GetProperty("eval_steps").GetInt32(), config.GetProperty("split").GetString()));
        string checkpoint = Path.Combine(runDir, "checkpoint.mcc");
        Assert.True(File.Exists(checkpoint));
        Assert.Single(Directory.GetFiles(Path.Combine(_data.CacheDir, "metacluster"), "mini-imagenet-*.bin"));

        // The provenance every JSON result carries, for bench/results.py.
        Assert.Contains("--dataset mini-imagenet", trained.GetProperty("command_line").GetString());
        Assert.StartsWith("metacluster train ", trained.GetProperty("command_line").GetString());
        Assert.Equal(Environment.ProcessorCount, trained.GetProperty("machine").GetProperty("cores").GetInt32());
        Assert.Contains(trained.GetProperty("machine").GetProperty("isa").GetString(), new[] { "AVX-512", "AVX2", "no AVX2" });
        Assert.InRange(trained.GetProperty("wall_seconds").GetDouble(), trained.GetProperty("seconds").GetDouble(), 600);
        // The process's CPU seconds over the rounds: some, and no more than every core busy for the whole command.
        Assert.InRange(trained.GetProperty("cpu_seconds").GetDouble(), 0.01, trained.GetProperty("wall_seconds").GetDouble() * Environment.ProcessorCount);

        (code, stdout, stderr) = CliRunner.Run(environment, "evaluate", "--checkpoint", checkpoint, "--episodes", "3", "--steps", "1", "--json");
        Assert.True(code == 0, stderr);
        var evaluated = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(trained.GetProperty("theta_sha256").GetString(), evaluated.GetProperty("theta_sha256").GetString());
        Assert.Equal(3, evaluated.GetProperty("evaluation").GetProperty("episodes").GetInt32());
    }

    /// <summary>
    /// `evaluate --ways`: a ProtoNet (no N-way head) trained on 3-way episodes is scored on 2-way ones — how Snell et al.'s
    /// 60-way-trained model gives its 5- and 20-way rows — while a MAML checkpoint, whose head is 3-way, is refused naming why.
    /// </summary>
    [Fact]
    public void EvaluateAtAnotherWayCountWorksForAProtoNetAndIsRefusedForAModelWithAnNWayHead()
    {
        var environment = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = _data.CacheDir };
        string Train(string algorithm)
        {
            string runDir = Path.Combine(_data.Dir, algorithm);
            var (code, _, stderr) = CliRunner.Run(environment, "train", "--dataset", "mini-imagenet", "--data", _data.Dir, "--algorithm", algorithm,
                "--ways", "3", "--queries", "1", "--meta-batch", "1", "--inner-steps", "1", "--iterations", "1", "--in-process", "--no-eval", "--json",
                "--checkpoint-dir", runDir);
            Assert.True(code == 0, stderr);
            return Path.Combine(runDir, "checkpoint.mcc");
        }

        var (code, stdout, stderr) = CliRunner.Run(environment, "evaluate", "--checkpoint", Train("protonet"), "--ways", "2", "--episodes", "3", "--json");
        Assert.True(code == 0, stderr);
        var evaluated = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2, evaluated.GetProperty("ways").GetInt32());
        Assert.Equal(2, evaluated.GetProperty("config").GetProperty("ways").GetInt32());

        (code, _, stderr) = CliRunner.Run(environment, "evaluate", "--checkpoint", Train("maml"), "--ways", "2", "--episodes", "3", "--json");
        Assert.Equal(2, code);
        Assert.Contains("built for 3-way episodes", stderr);
        Assert.Contains("drop --ways", stderr);
    }
}
