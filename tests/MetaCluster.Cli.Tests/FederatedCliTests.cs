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
        // The straight run's clients on the embedded silo's two worker slots, the resumed run's in this process: the
        // engine never changes a bit (failure-rate drops included, drawn from the seed on either side).
        var straight = CliRunner.Json([.. Sine, "--rounds", "8", "--checkpoint", Checkpoint("straight"), "--workers", "2"]);
        Assert.Equal("embedded silo (2 worker slots)", straight.GetProperty("engine").GetString());
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

        var first = CliRunner.Json([.. Sine, "--rounds", "3", "--checkpoint", Checkpoint("resumed"), "--no-eval", "--in-process"]);
        var resumed = CliRunner.Json(["federated", "simulate", "--resume", "--rounds", "8", "--checkpoint", Checkpoint("resumed"), "--json", "--in-process"]);
        Assert.Equal("in process", resumed.GetProperty("engine").GetString());
        Assert.Equal(straight.GetProperty("theta_sha256").GetString(), resumed.GetProperty("theta_sha256").GetString());
        Assert.Equal(5, resumed.GetProperty("rounds_this_run").GetInt32());
        Assert.Equal(participation.GetRawText(), resumed.GetProperty("participation").GetRawText());
        // The whole run's training time: the first part's rounds, then the resumed part's added (each part's own
        // "seconds" also counts the command's time between rounds, so it bounds its share from above).
        double Seconds(JsonElement json, string name) => json.GetProperty(name).GetDouble();
        double before = Seconds(first, "train_wall_seconds"), after = Seconds(resumed, "train_wall_seconds");
        Assert.InRange(before, 1e-6, Seconds(first, "seconds") + 0.002);
        Assert.InRange(after - before, 1e-6, Seconds(resumed, "seconds") + 0.002);

        var evaluated = CliRunner.Json(["federated", "evaluate", "--checkpoint", Checkpoint("straight"), "--json"]);
        Assert.Equal(straight.GetProperty("theta_sha256").GetString(), evaluated.GetProperty("theta_sha256").GetString());
        Assert.Equal(straight.GetProperty("evaluation").GetRawText(), evaluated.GetProperty("evaluation").GetRawText());
        Assert.Equal(Seconds(straight, "train_wall_seconds"), Seconds(evaluated, "train_wall_seconds")); // read from the checkpoint
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
            "--eval-episodes", "2", "--checkpoint", Checkpoint("folder"), "--json", "--in-process");
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
            "--checkpoint", Checkpoint("starved"), "--json", "--in-process");
        Assert.Equal(2, code);
        Assert.Contains("too few clients answered", stderr);
        Assert.Contains("failed: simulated failure (--failure-rate)", stderr); // the cause, not just the count
        Assert.True(File.Exists(Checkpoint("starved")));
        (code, _, stderr) = CliRunner.Run("federated", "simulate", "--in-process", "--workers", "2", "--checkpoint", Checkpoint("bad"));
        Assert.Equal(2, code);
        Assert.Contains("--in-process computes the clients in this process; --workers only apply", stderr);
        (code, _, stderr) = CliRunner.Run("federated", "simulate", "--in-process", "--eval-every", "2", "--checkpoint", Checkpoint("bad"));
        Assert.Equal(2, code);
        Assert.Contains("--eval-every needs --curve FILE", stderr);
    }

    [Fact]
    public void ParticipationLogAndCurve_RoundTripTheCheckpointsRecords_AndTheFinalPointIsTheFinalEvaluation()
    {
        // A quarter of the clients fail and 3 of 4 must answer: rounds with drops and re-sampled rounds.
        string log = Path.Combine(_directory, "participation.jsonl"), curve = Path.Combine(_directory, "curve.jsonl");
        var json = CliRunner.Json([.. Sine, "--rounds", "5", "--min-completion", "0.75", "--checkpoint", Checkpoint("logged"), "--in-process",
            "--participation-log", log, "--eval-every", "2", "--curve", curve]);
        var checkpoint = Core.Federated.FederatedCheckpoint.Load(Checkpoint("logged"));
        var lines = File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(Enumerable.Range(0, 5), lines.Select(l => l.GetProperty("round").GetInt32()));

        // The samples, in order, are the checkpoint's participation records: the file replays the run as it does.
        static string[] Ids(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();
        var fromLog = lines.SelectMany(l => l.GetProperty("samples").EnumerateArray().Select(s => new Core.Federated.ParticipationRecord(
            l.GetProperty("round").GetInt64(), s.GetProperty("attempt").GetInt32(), Ids(s.GetProperty("sampled")), Ids(s.GetProperty("completed")),
            s.GetProperty("dropped").EnumerateArray().Select(d => new Core.Federated.DroppedClient(d.GetProperty("client").GetString()!,
                Enum.Parse<Core.Federated.DropReason>(d.GetProperty("reason").GetString()!, ignoreCase: true), d.GetProperty("detail").GetString()!)).ToArray(),
            s.GetProperty("accepted").GetBoolean()))).ToArray();
        Assert.Equal(checkpoint.Participation.Count, fromLog.Length);
        for (int i = 0; i < fromLog.Length; i++)
        {
            var (expected, actual) = (checkpoint.Participation[i], fromLog[i]);
            Assert.Equal((expected.Round, expected.Attempt, expected.Accepted), (actual.Round, actual.Attempt, actual.Accepted));
            Assert.Equal(expected.Sampled, actual.Sampled);
            Assert.Equal(expected.Completed, actual.Completed);
            Assert.Equal(expected.Dropped, actual.Dropped);
        }
        Assert.Contains(fromLog, r => !r.Accepted); // the setting did re-sample, so attempts were exercised
        Assert.Contains(lines, l => l.GetProperty("attempts").GetInt32() > 1);

        // Each line's totals: the accepted sample's clients, drops by reason over all samples, θ down and updates up.
        foreach (var line in lines)
        {
            var records = fromLog.Where(r => r.Round == line.GetProperty("round").GetInt64()).ToArray();
            Assert.Equal(records.Single(r => r.Accepted).Completed, Ids(line.GetProperty("completed")));
            Assert.Equal(records.SelectMany(r => r.Dropped).Where(d => d.Reason == Core.Federated.DropReason.Failed).Select(d => d.ClientId),
                Ids(line.GetProperty("dropped").GetProperty("failed")));
            int sampled = records.Sum(r => r.Sampled.Length), answered = records.Sum(r => r.Completed.Length);
            Assert.Equal(sampled, line.GetProperty("sampled").GetInt32());
            Assert.Equal(4L * 1761 * (sampled + answered), line.GetProperty("bytes").GetInt64());
            var norm = line.GetProperty("update_norm");
            Assert.InRange(norm.GetProperty("mean").GetDouble(), double.Epsilon, norm.GetProperty("max").GetDouble());
        }

        // The curve: rounds 0, 2, 4 and the end; the end's point is the run's own final evaluation, number for number.
        var points = File.ReadAllLines(curve).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([(0, "curve"), (2, "curve"), (4, "curve"), (5, "final")], points.Select(p => (p.GetProperty("round").GetInt32(), p.GetProperty("kind").GetString()!)));
        Assert.All(points, p => Assert.Equal("fedavg", p.GetProperty("algorithm").GetString()));
        var final = json.GetProperty("evaluation").GetProperty("new_clients");
        foreach (string field in new[] { "mean", "ci95", "p10" })
            Assert.Equal(final.GetProperty(field).GetDouble(), points[^1].GetProperty(field).GetDouble());
        Assert.Equal(json.GetProperty("participation").GetProperty("completed").GetInt64() * 2, points[^1].GetProperty("episodes_trained").GetInt64());
    }

    [Fact]
    public void Evaluate_ScoresACentralizedTrainCheckpoint_OnTheFederationsNewClients_AsAFederatedOneWithTheSameTheta()
    {
        string dir = Path.Combine(_directory, "train");
        CliRunner.Json("train", "--dataset", "sinusoid", "--iterations", "3", "--meta-batch", "2", "--in-process", "--no-eval", "--checkpoint-dir", dir, "--json");
        string trained = Path.Combine(dir, "checkpoint.mcc"), curve = Path.Combine(_directory, "central.jsonl");
        var centralized = CliRunner.Json("federated", "evaluate", "--checkpoint", trained, "--seed", "5", "--episodes", "3", "--json", "--curve", curve);

        // The same θ in a federated checkpoint of a seed-5 sinusoid federation: the same new clients, episodes and scores.
        var train = Core.Training.Checkpoint.Load(trained);
        var config = Core.Federated.FederatedConfig.ForAlgorithm("sinusoid", "fedavg") with { Seed = 5, InnerLr = train.Config.InnerLr, EvalSteps = train.Config.EvalSteps };
        new Core.Federated.FederatedCheckpoint(config, 3, train.Theta, new Core.Training.OptimizerState("sgd", 0, new Dictionary<string, float[]>()), []).Save(Checkpoint("same-theta"));
        var federated = CliRunner.Json("federated", "evaluate", "--checkpoint", Checkpoint("same-theta"), "--episodes", "3", "--json");
        Assert.Equal(federated.GetProperty("evaluation").GetRawText(), centralized.GetProperty("evaluation").GetRawText());
        Assert.Equal("maml (centralized train)", centralized.GetProperty("algorithm").GetString());

        var point = JsonDocument.Parse(File.ReadAllText(curve)).RootElement;
        Assert.Equal(("evaluate", "centralized", 3, 6), (point.GetProperty("kind").GetString(), point.GetProperty("source").GetString(),
            point.GetProperty("round").GetInt32(), point.GetProperty("episodes_trained").GetInt32())); // 3 iterations × meta-batch 2

        var (code, _, stderr) = CliRunner.Run("federated", "evaluate", "--checkpoint", trained, "--dataset", "folder", "--data", _directory);
        Assert.Equal(2, code);
        Assert.Contains("was trained on sinusoid (regression); score it on a sinusoid federation", stderr);
    }
}
