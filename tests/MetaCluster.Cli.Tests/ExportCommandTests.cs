using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Tests;

/// <summary>
/// `metacluster export`: a trained (or federated) checkpoint's θ comes out under its names with its exact bits, the JSON
/// line says what was written, and a wrong extension, a file already there or a missing checkpoint is refused without
/// writing anything. And the way back, `train --init`: a run starts from an exported file's θ on every engine alike.
/// </summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly TestCheckpoints _runs = new("mc-export-cli-");

    public void Dispose() => _runs.Dispose();

    private string Trained()
    {
        _runs.Train("sine", "--in-process", "--iterations", "3", "--meta-batch", "2", "--hidden", "8,8");
        return _runs.Checkpoint("sine");
    }

    [Fact]
    public void ExportsTheCheckpointsThetaWithItsNamesAndBits()
    {
        string checkpoint = Trained();
        string target = _runs.PathOf("out/theta.safetensors");
        var json = CliRunner.Json("export", "--checkpoint", checkpoint, "--out", target, "--json");

        var theta = Checkpoint.Load(checkpoint).Theta;
        Assert.Equal("safetensors", json.GetProperty("format").GetString());
        Assert.Equal(3, json.GetProperty("round").GetInt64());
        Assert.Equal(theta.Layout.TotalCount, json.GetProperty("parameters").GetInt32());
        Assert.Equal(theta.Sha256(), json.GetProperty("theta_sha256").GetString());
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"],
            json.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        Assert.Equal([8L, 1L], json.GetProperty("tensors")[0].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));

        // The data section is θ's float32 bytes in θ's order (the header's offsets are checked in Core's ThetaExportTests).
        byte[] file = File.ReadAllBytes(target);
        int data = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(theta.Span.ToArray(), MemoryMarshal.Cast<byte, float>(file.AsSpan(data)).ToArray());
    }

    [Fact]
    public void AFederatedRunsThetaExportsToo()
    {
        string checkpoint = _runs.PathOf("fed/federated.mcc");
        CliRunner.Json("federated", "simulate", "--dataset", "sinusoid", "--algorithm", "fedavg", "--clients", "4", "--clients-per-round", "2",
            "--local-episodes", "1", "--local-steps", "1", "--eval-episodes", "2", "--rounds", "2", "--in-process", "--checkpoint", checkpoint, "--json");
        var json = CliRunner.Json("export", "--checkpoint", checkpoint, "--out", _runs.PathOf("fed.pt"), "--json");

        var theta = Core.Federated.FederatedCheckpoint.Load(checkpoint).Theta;
        Assert.Equal("federated sinusoid / fedavg", json.GetProperty("model").GetString());
        Assert.Equal(2, json.GetProperty("round").GetInt64());
        Assert.Equal(theta.Sha256(), json.GetProperty("theta_sha256").GetString());
        Assert.True(File.Exists(_runs.PathOf("fed.pt")));
    }

    [Fact]
    public void AnExistingFileIsKeptUnlessOverwriteIsGiven()
    {
        string checkpoint = Trained();
        string target = _runs.PathOf("theta.pt");
        File.WriteAllText(target, "keep me");
        string stderr = CliRunner.Refused("export", "--checkpoint", checkpoint, "--out", target);
        Assert.Contains("already exists", stderr);
        Assert.Contains("--overwrite", stderr);
        Assert.Equal("keep me", File.ReadAllText(target));

        var json = CliRunner.Json("export", "--checkpoint", checkpoint, "--out", target, "--overwrite", "--json");
        Assert.Equal("pytorch", json.GetProperty("format").GetString());
        Assert.NotEqual("keep me", File.ReadAllText(target));
    }

    [Fact]
    public void TrainInitStartsFromAnExportAndEveryEngineContinuesItAlike()
    {
        string exported = _runs.PathOf("a.pt");
        CliRunner.Json("export", "--checkpoint", Trained(), "--out", exported, "--json");
        var expected = Checkpoint.Load(_runs.Checkpoint("sine")).Theta;

        // Another seed, no rounds: the checkpoint is the file's θ.
        var start = _runs.Train("start", "--in-process", "--iterations", "0", "--meta-batch", "2", "--hidden", "8,8", "--seed", "9", "--init", exported);
        Assert.Equal(exported, start.GetProperty("initialized_from").GetString());
        Assert.Equal(expected.Sha256(), start.GetProperty("theta_sha256").GetString());

        // Two rounds on from it: the single-process trainer and the embedded silo's grains give the same bits.
        string[] onward = ["--iterations", "2", "--meta-batch", "2", "--hidden", "8,8", "--seed", "9", "--init", exported];
        var inProcess = _runs.Train("in-process", [.. onward, "--in-process"]);
        var grains = _runs.Train("grains", onward);
        Assert.Equal(inProcess.GetProperty("theta_sha256").GetString(), grains.GetProperty("theta_sha256").GetString());
        Assert.NotEqual(expected.Sha256(), grains.GetProperty("theta_sha256").GetString());

        string stderr = CliRunner.Refused("train", "--resume", "--checkpoint-dir", _runs.PathOf("grains"), "--init", exported, "--in-process");
        Assert.Contains("--init gives a new run its θ", stderr);
        stderr = CliRunner.Refused("train", "--checkpoint-dir", _runs.PathOf("other"), "--init", exported, "--in-process", "--iterations", "1");
        Assert.Contains("fc1.weight is [8, 1], but this run's is [40, 1]", stderr); // the default 40,40 network
    }

    [Fact]
    public void AWrongExtensionOrAMissingCheckpointIsOneClearError()
    {
        string stderr = CliRunner.Refused("export", "--checkpoint", _runs.PathOf("none.mcc"), "--out", _runs.PathOf("theta.onnx"));
        Assert.Contains("'.onnx' names no format", stderr);
        Assert.Contains(".safetensors", stderr);

        stderr = CliRunner.Refused("export", "--checkpoint", _runs.PathOf("none.mcc"), "--out", _runs.PathOf("theta.pt"));
        Assert.Contains("none.mcc", stderr);
        Assert.False(File.Exists(_runs.PathOf("theta.pt")));
    }
}
