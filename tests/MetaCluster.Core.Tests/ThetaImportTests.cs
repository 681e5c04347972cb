using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>
/// θ₀ from a PyTorch state_dict: named tensors replace the initial values bit for bit, unnamed parameters keep theirs,
/// batch norm's running statistics are skipped, and a file of another network is refused naming what does not fit.
/// </summary>
public sealed class ThetaImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-import-").FullName;
    private string PathOf(string name) => Path.Combine(_dir, name);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Conv4 Model = new(classes: 3, filters: 4);

    /// <summary>Writes a state_dict of the given tensors (copied out of <paramref name="source"/> by name, or given).</summary>
    private string Pt(string name, params (string Name, Tensor Value)[] tensors)
    {
        PyTorchPickler.PickleStateDict(PathOf(name), tensors.ToDictionary(t => t.Name, t => t.Value));
        return PathOf(name);
    }

    private static Tensor Of(ParameterSet theta, string name)
    {
        var p = theta.Layout.Parameters.Single(q => q.Name == name);
        return tensor(theta.Span.Slice(p.Offset, p.Count).ToArray(), p.Shape);
    }

    [Theory]
    [InlineData("theta.pt")]
    [InlineData("theta.safetensors")]
    public void AnExportReadBackIsTheSameThetaWhateverTheSeed(string file)
    {
        var trained = Model.Initialize(11);
        ThetaExport.Write(trained, PathOf(file));
        var outcome = ThetaImport.Read(PathOf(file), Model.Initialize(99));
        Assert.Equal(trained.Span.ToArray(), outcome.Theta.Span.ToArray());
        Assert.Equal(trained.Layout.Parameters.Select(p => p.Name), outcome.Taken);
        Assert.Empty(outcome.Kept);
    }

    [Fact]
    public void UnnamedParametersKeepTheirValuesAndRunningStatisticsAreSkipped()
    {
        using var scope = NewDisposeScope();
        var source = Model.Initialize(11);
        var initial = Model.Initialize(99);
        // A PyTorch body with BatchNorm2d's buffers and no head: a new head for new classes.
        var body = source.Layout.Parameters.Where(p => !p.Name.StartsWith("head")).Select(p => (p.Name, Of(source, p.Name)))
            .Append(("bn1.running_mean", zeros(4))).Append(("bn1.running_var", ones(4))).Append(("bn1.num_batches_tracked", tensor(3L)))
            .ToArray();
        var outcome = ThetaImport.Read(Pt("body.pt", body), initial);

        Assert.Equal(["head.weight", "head.bias"], outcome.Kept);
        Assert.Equal(["bn1.num_batches_tracked", "bn1.running_mean", "bn1.running_var"], outcome.Skipped);
        foreach (var p in source.Layout.Parameters)
        {
            var expected = (p.Name.StartsWith("head") ? initial : source).Span.Slice(p.Offset, p.Count).ToArray();
            Assert.Equal(expected, outcome.Theta.Span.Slice(p.Offset, p.Count).ToArray());
        }
    }

    [Fact]
    public void Float64TensorsAreTakenAsFloat32()
    {
        using var scope = NewDisposeScope();
        var outcome = ThetaImport.Read(Pt("double.pt", ("head.bias", tensor(new[] { 0.1, -2.5, 3e-8 }))), Model.Initialize(1));
        var head = outcome.Theta.Layout.Parameters.Single(p => p.Name == "head.bias");
        Assert.Equal(new[] { 0.1f, -2.5f, 3e-8f }, outcome.Theta.Span.Slice(head.Offset, head.Count).ToArray());
    }

    [Fact]
    public void AnotherNetworksFileIsRefusedNamingWhatDoesNotFit()
    {
        using var scope = NewDisposeScope();
        var initial = Model.Initialize(1);
        var wrongShape = Assert.Throws<ArgumentException>(() => ThetaImport.Read(Pt("20way.pt", ("head.weight", zeros(20, 4))), initial));
        Assert.Contains("head.weight is [20, 4], but this run's is [3, 4]", wrongShape.Message);

        var unknown = Assert.Throws<ArgumentException>(() => ThetaImport.Read(Pt("resnet.pt", ("layer1.0.conv1.weight", zeros(4)), ("head.bias", zeros(3))), initial));
        Assert.Contains("layer1.0.conv1.weight", unknown.Message);
        Assert.Contains("no parameter for", unknown.Message);

        var nonFinite = Assert.Throws<ArgumentException>(() => ThetaImport.Read(Pt("nan.pt", ("head.bias", tensor(new[] { 1f, float.NaN, 0f }))), initial));
        Assert.Contains("non-finite", nonFinite.Message);

        var integers = Assert.Throws<ArgumentException>(() => ThetaImport.Read(Pt("ints.pt", ("head.bias", tensor(new[] { 1L, 2L, 3L }))), initial));
        Assert.Contains("floating-point", integers.Message);
    }

    [Fact]
    public void WhatIsNotAStateDictIsAClearError()
    {
        File.WriteAllBytes(PathOf("junk.pt"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        Assert.Contains("is not a state_dict torch.save wrote", Assert.Throws<ArgumentException>(() => ThetaImport.Read(PathOf("junk.pt"), Model.Initialize(1))).Message);
        File.WriteAllBytes(PathOf("junk.safetensors"), [9, 0, 0, 0, 0, 0, 0, 0, (byte)'{']);
        Assert.Contains("is not a safetensors file", Assert.Throws<ArgumentException>(() => ThetaImport.Read(PathOf("junk.safetensors"), Model.Initialize(1))).Message);
        Assert.Contains("no file at", Assert.Throws<ArgumentException>(() => ThetaImport.Read(PathOf("none.pt"), Model.Initialize(1))).Message);
        Assert.Contains("'.npz'", Assert.Throws<ArgumentException>(() => ThetaImport.Read(PathOf("theta.npz"), Model.Initialize(1))).Message);
    }
}
