using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MetaCluster.Core.Training;

/// <summary>
/// θ of a checkpoint as a PyTorch state_dict, so a meta-trained initialisation goes on in PyTorch: a <c>.pt</c>/<c>.pth</c>
/// file that <c>torch.load</c> reads (the zip-and-pickle format of <c>torch.save</c>), or a <c>.safetensors</c> file. One
/// float32 tensor a parameter, under θ's own names and shapes (<c>conv1.weight</c> [64, 1, 3, 3] … <c>head.bias</c>),
/// in θ's order — the keys of a PyTorch module built as docs/commands.md shows. Only θ goes out: the outer optimizer's
/// state and the run's config stay in the checkpoint (they continue a run; they do not define the model).
/// TorchSharp.PyBridge writes both formats.
/// </summary>
public static class ThetaExport
{
    public enum Format
    {
        PyTorch,
        Safetensors,
    }

    /// <summary>The format a file name asks for, by its extension (for export and for <see cref="ThetaImport"/>).</summary>
    public static Format FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".pt" or ".pth" => Format.PyTorch,
        ".safetensors" => Format.Safetensors,
        var other => throw new ArgumentException(
            $"{path}: {(other.Length == 0 ? "no extension" : $"'{other}'")} names no format of θ for PyTorch; end the name in .pt or .pth (torch.save / torch.load) or .safetensors."),
    };

    /// <summary>
    /// Writes θ to <paramref name="path"/> in the format its extension names, whole or not at all (as a checkpoint is
    /// written: <see cref="Checkpoint.WriteFile"/>), so a failed export leaves whatever was there before.
    /// </summary>
    public static void Write(Models.ParameterSet theta, string path)
    {
        var format = FormatOf(path);
        using var scope = NewDisposeScope();
        var tensors = theta.ToTensors();
        // Insertion order is the file's order: θ's, as a PyTorch module lists its parameters.
        var stateDict = new Dictionary<string, Tensor>();
        for (int i = 0; i < tensors.Length; i++) stateDict.Add(theta.Layout[i].Name, tensors[i]);
        using var bytes = new MemoryStream();
        if (format == Format.PyTorch) PyTorchPickler.PickleStateDict(bytes, stateDict, leaveOpen: true);
        else Safetensors.SaveStateDict(bytes, stateDict, leaveOpen: true);
        Checkpoint.WriteFile(path, bytes.ToArray());
    }
}
