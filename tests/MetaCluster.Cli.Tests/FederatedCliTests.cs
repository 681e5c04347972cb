using System.Text.Json;
using MetaCluster.Core.Tests;

namespace MetaCluster.Cli.Tests;

/// <summary>`metacluster federated` in child processes: the JSON a script reads, resume bit-identity, evaluate, a folder federation, bad input.</summary>
public sealed class FederatedCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-fed-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Checkpoint(string name) => Path.Combine(_directory, name, "federated.mcc");

    private static readonly string[] Sine = ["federated", "simulate", "--dataset", "sinusoid", "--algorithm", "fedavg", "--clients", "20",
        "--clients-per-round", "4", "--local-episodes", "2", "--local-steps", "2", "--failure-rate", "0.25", "--eval-episodes", "3", "--seed", "5", "--json"];

    [Fact]
    public void Simulate_PrintsTheRunsFiguresAndAResumedRunEndsWithTheStraightRunsBits()
    {
        var straight = CliRunner.Json([.. Sine, "--rounds", "8", "--checkpoint", Checkpoint("straight")]);
        Assert.Matches("^[0-9a-f]{64}$", straight.GetProperty("theta_sha256").GetString());
        Assert.Equal(8, straight.GetProperty("rounds").GetInt32());
        Assert.Equal(20, straight.GetProperty("clients_total").GetInt32());
        Assert.Equal(16, straight.GetProperty("clients_training").GetInt32());
        var participation = straight.GetProperty("participation");
        long sampled = participation.GetProperty("sampled").GetInt64(), completed = participation.GetProperty("completed").GetInt64();
        long failed = participation.GetProperty("dropped").GetProperty("failed").GetInt64();
        Assert.True(failed > 0, "a quarter of the sampled clients fail");
        Assert.InRange(completed, 8 * 2, 8 * 4); // at least half of 4 in each of 8 rounds
        Assert.True(sampled >= 8 * 4);
        // θ (1,761 floats) goes down to every sampled client and comes up from every client that answered.
        long answered = sampled - failed;
        Assert.Equal(Math.Round(4.0 * 1761 * (sampled + answered) / 8), straight.GetProperty("bytes_per_round").GetDouble());
        var newClients = straight.GetProperty("evaluation").GetProperty("new_clients");
        Assert.Equal("mse", newClients.GetProperty("metric").GetString());
        Assert.True(newClients.GetProperty("mean").GetDouble() > 0);
        Assert.True(newClients.GetProperty("ci95").GetDouble() > 0);
        Assert.True(newClients.GetProperty("p10").GetDouble() >= newClients.GetProperty("mean").GetDouble() * 0.5);
        Assert.Equal(4, newClients.GetProperty("clients").GetInt32());

        CliRunner.Json([.. Sine, "--rounds", "3", "--checkpoint", Checkpoint("resumed"), "--no-eval"]);
        var resumed = CliRunner.Json(["federated", "simulate", "--resume", "--rounds", "8", "--checkpoint", Checkpoint("resumed"), "--json"]);
        Assert.Equal(straight.GetProperty("theta_sha256").GetString(), resumed.GetProperty("theta_sha256").GetString());
        Assert.Equal(5, resumed.GetProperty("rounds_this_run").GetInt32());
        Assert.Equal(participation.GetRawText(), resumed.GetProperty("participation").GetRawText());

        var evaluated = CliRunner.Json(["federated", "evaluate", "--checkpoint", Checkpoint("straight"), "--json"]);
        Assert.Equal(straight.GetProperty("theta_sha256").GetString(), evaluated.GetProperty("theta_sha256").GetString());
        Assert.Equal(straight.GetProperty("evaluation").GetRawText(), evaluated.GetProperty("evaluation").GetRawText());
    }

    [Fact]
    public void Simulate_OnAFolderFederation_TrainsImageClientsAndScoresTheHeldOutOne()
    {
        // DIR/<client>/<class>/*.png: 3 clients × 2 classes × 3 images; each class a bar at its own row.
        string data = Path.Combine(_directory, "clients");
        for (int client = 0; client < 3; client++)
            for (int c = 0; c < 2; c++)
            {
                string folder = Directory.CreateDirectory(Path.Combine(data, $"site{client}", $"class{c}")).FullName;
                for (int i = 0; i < 3; i++)
                {
                    var gray = Enumerable.Repeat((byte)255, 28 * 28).ToArray();
                    for (int x = 0; x < 28; x++) gray[(4 + 8 * c + 2 * client + i % 2) * 28 + x] = 0;
                    File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), TestPng.Encode(gray, 28, 28));
                }
            }
        var json = CliRunner.Json("federated", "simulate", "--dataset", "folder", "--data", data, "--algorithm", "fedmeta-fomaml", "--ways", "2",
            "--shots", "1", "--queries", "1", "--rounds", "2", "--clients-per-round", "2", "--local-episodes", "1", "--eval-clients", "0.3",
            "--eval-episodes", "2", "--checkpoint", Checkpoint("folder"), "--json");
        Assert.Equal(3, json.GetProperty("clients_total").GetInt32());
        Assert.Equal(1, json.GetProperty("clients_new").GetInt32());
        Assert.Equal(4, json.GetProperty("participation").GetProperty("completed").GetInt32());
        var newClients = json.GetProperty("evaluation").GetProperty("new_clients");
        Assert.Equal("accuracy", newClients.GetProperty("metric").GetString());
        Assert.InRange(newClients.GetProperty("mean").GetDouble(), 0, 1);
    }

    [Fact]
    public void BadInput_IsOneLineNamingTheOptionWithExitCode2()
    {
        var (code, _, stderr) = CliRunner.Run("federated", "simulate", "--dataset", "sinusoid", "--partition", "alphabet", "--checkpoint", Checkpoint("bad"));
        Assert.Equal(2, code);
        Assert.Contains("--partition alphabet does not apply to sinusoid", stderr);
        (code, _, stderr) = CliRunner.Run("federated", "simulate", "--dataset", "omniglot", "--checkpoint", Checkpoint("bad"));
        Assert.Equal(2, code);
        Assert.Contains("needs --data DIR", stderr);
        (code, _, stderr) = CliRunner.Run("federated", "simulate", "--rounds", "2", "--failure-rate", "0.95", "--min-completion", "1", "--max-attempts", "2",
            "--checkpoint", Checkpoint("starved"), "--json");
        Assert.Equal(2, code);
        Assert.Contains("too few clients answered", stderr);
        Assert.True(File.Exists(Checkpoint("starved")));
    }
}
