using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"mc-ckpt-{Guid.NewGuid():N}");
    private string PathOf(string name) => Path.Combine(_dir, name);

    private static Checkpoint Sample()
    {
        var model = new Mlp(1, 4, 1);
        var theta = model.Initialize(1);
        var adam = new AdamOptimizer(theta.Values.Length);
        adam.Step(theta.Values, Enumerable.Repeat(0.5f, theta.Values.Length).ToArray(), 0.01);
        return new Checkpoint(TrainingConfig.ForDataset("sinusoid", "maml") with { Seed = 42 }, 7, theta, adam.GetState());
    }

    [Fact]
    public void RoundTripKeepsEverything()
    {
        var original = Sample();
        original.Save(PathOf("a.mcc"));
        var loaded = Checkpoint.Load(PathOf("a.mcc"));
        Assert.Equal(original.Theta.Values, loaded.Theta.Values);
        Assert.True(original.Theta.Layout.SameAs(loaded.Theta.Layout));
        Assert.Equal(7, loaded.Round);
        Assert.Equal(42UL, loaded.Config.Seed);
        Assert.Equal(original.Config.Hidden, loaded.Config.Hidden);
        Assert.Equal("adam", loaded.Optimizer.Optimizer);
        Assert.Equal(1, loaded.Optimizer.Step);
        Assert.Equal(original.Optimizer.Vectors["v"], loaded.Optimizer.Vectors["v"]);
    }

    /// <summary>
    /// magic, int32 version, int32 header length, the header, float32 θ, float32 optimizer vectors in ordinal name order,
    /// SHA-256 of all before — built here by hand, so checkpoints already on disk keep loading whatever writes them. The
    /// JSON header is taken from a file (<see cref="HeaderOf"/>): it is the config's serialization, not the framing.
    /// </summary>
    private static byte[] Framed(string magic, byte[] header, float[] theta, params float[][] vectors)
    {
        var body = new MemoryStream();
        body.Write(System.Text.Encoding.ASCII.GetBytes(magic));
        body.Write(BitConverter.GetBytes(1));
        body.Write(BitConverter.GetBytes(header.Length));
        body.Write(header);
        foreach (float[] values in vectors.Prepend(theta))
            foreach (float v in values) body.Write(BitConverter.GetBytes(v));
        body.Write(System.Security.Cryptography.SHA256.HashData(body.ToArray()));
        return body.ToArray();
    }

    private static byte[] HeaderOf(byte[] file) => file[16..(16 + BitConverter.ToInt32(file, 12))];

    [Fact]
    public void BothCheckpointKindsWriteTheDocumentedLayout()
    {
        var sample = Sample();
        var state = sample.Optimizer with { Vectors = new Dictionary<string, float[]> { ["v"] = [1.5f, -2f], ["m"] = [0.25f], ["b"] = [] } };
        byte[] bytes = (sample with { Optimizer = state }).ToBytes();
        Assert.Equal(Framed("METACLCK", HeaderOf(bytes), sample.Theta.Values, [], [0.25f], [1.5f, -2f]), bytes);

        var federated = new Federated.FederatedCheckpoint(Federated.FederatedConfig.ForAlgorithm("sinusoid", "fedavg"), 3, sample.Theta, state,
            [new Federated.ParticipationRecord(1, 0, ["a", "b"], ["a"], [], true)]);
        byte[] federatedBytes = federated.ToBytes();
        Assert.Equal(Framed("METAFEDC", HeaderOf(federatedBytes), sample.Theta.Values, [], [0.25f], [1.5f, -2f]), federatedBytes);
        Assert.Equal(["a", "b"], Federated.FederatedCheckpoint.FromBytes(federatedBytes).Participation[0].Sampled);
    }

    [Fact]
    public void TrainingSecondsRoundTripAndCheckpointsFromBeforeThemLoadWithout()
    {
        var timed = Sample() with { TrainingSeconds = 5742.25 };
        byte[] bytes = timed.ToBytes();
        Assert.Equal(5742.25, Checkpoint.FromBytes(bytes).TrainingSeconds);

        // The header as builds before the field wrote it: the same file less "TrainingSeconds" (no such key at all).
        var header = System.Text.Json.Nodes.JsonNode.Parse(HeaderOf(bytes))!.AsObject();
        Assert.Equal(5742.25, (double)header["TrainingSeconds"]!);
        Assert.True(header.Remove("TrainingSeconds"));
        var vectors = timed.Optimizer.Vectors.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => v.Value).ToArray();
        var legacy = Checkpoint.FromBytes(Framed("METACLCK", System.Text.Encoding.UTF8.GetBytes(header.ToJsonString()), timed.Theta.Values, vectors));
        Assert.Null(legacy.TrainingSeconds);
        Assert.Equal(7, legacy.Round);
        Assert.Equal(timed.Theta.Values, legacy.Theta.Values);
        Assert.Equal(timed.Optimizer.Vectors["v"], legacy.Optimizer.Vectors["v"]);
    }

    [Fact]
    public void TruncatedFilesAreRejectedWithAClearError()
    {
        Sample().Save(PathOf("a.mcc"));
        var bytes = File.ReadAllBytes(PathOf("a.mcc"));
        foreach (int length in new[] { bytes.Length - 1, bytes.Length / 2, 20 })
        {
            File.WriteAllBytes(PathOf("cut.mcc"), bytes[..length]);
            var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("cut.mcc")));
            Assert.Contains("truncated", error.Message);
        }
    }

    [Fact]
    public void CorruptOrForeignFilesAreRejectedWithAClearError()
    {
        Sample().Save(PathOf("a.mcc"));
        var bytes = File.ReadAllBytes(PathOf("a.mcc"));
        bytes[^40] ^= 0x10; // a bit in the parameters
        File.WriteAllBytes(PathOf("flip.mcc"), bytes);
        Assert.Contains("checksum", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("flip.mcc"))).Message);

        File.WriteAllText(PathOf("text.mcc"), "hello, not a checkpoint at all");
        Assert.Contains("not a MetaCluster checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("text.mcc"))).Message);
        Assert.Contains("no checkpoint at", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("absent.mcc"))).Message);
    }

    [Fact]
    public void SavingOverAnExistingCheckpointReplacesItAtomically()
    {
        var first = Sample();
        first.Save(PathOf("a.mcc"));
        var second = first with { Round = 8 };
        second.Save(PathOf("a.mcc"));
        Assert.Equal(8, Checkpoint.Load(PathOf("a.mcc")).Round);
        Assert.Single(Directory.GetFiles(_dir)); // no temporary files left behind
    }

    [Fact]
    public void ResumingWithAnotherModelIsRejected()
    {
        var checkpoint = Sample();
        var run = RunFactory.Create(checkpoint.Config with { Hidden = [5, 5] });
        var error = Assert.Throws<CheckpointException>(() => new MetaTrainer(run, checkpoint));
        Assert.Contains("resume with the checkpoint's own settings", error.Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
