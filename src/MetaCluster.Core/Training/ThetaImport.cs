using System.Collections;
using MetaCluster.Core.Models;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MetaCluster.Core.Training;

/// <summary>
/// θ₀ from a PyTorch state_dict (<c>torch.save</c>'s <c>.pt</c>/<c>.pth</c>, or <c>.safetensors</c>) — the way back of
/// <see cref="ThetaExport"/>: a run starts from weights trained or meta-trained in PyTorch instead of its seed's. Each
/// tensor replaces the initial values of the θ parameter with its name, which must have its shape; θ parameters the file
/// does not name keep the seed's values (a plain network's file leaves Meta-SGD's rates, or a new head, as initialised).
/// Batch norm's running statistics are skipped: MetaCluster normalises with the batch's own statistics. Any other name
/// is refused, as is a file that names no parameter of θ at all.
/// </summary>
public static class ThetaImport
{
    /// <summary>What the file replaced and what kept its initial values.</summary>
    public sealed record Outcome(ParameterSet Theta, IReadOnlyList<string> Taken, IReadOnlyList<string> Kept, IReadOnlyList<string> Skipped);

    /// <summary>Batch norm's buffers in a PyTorch state_dict: not parameters of θ (batch statistics are used instead).</summary>
    private static readonly string[] RunningStatistics = [".running_mean", ".running_var", ".num_batches_tracked"];

    public static Outcome Read(string path, ParameterSet initial)
    {
        var format = ThetaExport.FormatOf(path);
        if (!File.Exists(path)) throw new ArgumentException($"no file at {path} to take θ from; give a state_dict saved by torch.save (.pt) or a .safetensors file.");
        using var scope = NewDisposeScope();
        var tensors = Load(path, format);
        var byName = initial.Layout.Parameters.ToDictionary(p => p.Name);
        var skipped = tensors.Keys.Where(name => RunningStatistics.Any(suffix => name.EndsWith(suffix, StringComparison.Ordinal))).Order(StringComparer.Ordinal).ToList();
        var unknown = tensors.Keys.Where(name => !byName.ContainsKey(name) && !skipped.Contains(name)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{path} holds {string.Join(", ", unknown.Take(8))}{(unknown.Count > 8 ? $" and {unknown.Count - 8} more" : "")}, " +
                $"which this run's θ has no parameter for; θ is {initial.Layout.Describe()} (metacluster export shows the names a run uses).");
        var values = initial.Span.ToArray();
        var taken = new List<string>();
        foreach (var p in initial.Layout.Parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var tensor)) continue;
            if (!tensor.shape.SequenceEqual(p.Shape))
                throw new ArgumentException($"{path}: {p.Name} is [{string.Join(", ", tensor.shape)}], but this run's is [{string.Join(", ", p.Shape)}] " +
                    "(another number of ways, filters or image size?); give a file of the same network.");
            if (!tensor.is_floating_point())
                throw new ArgumentException($"{path}: {p.Name} holds {tensor.dtype} values; θ takes floating-point tensors.");
            var data = tensor.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            foreach (float v in data)
                if (!float.IsFinite(v)) throw new ArgumentException($"{path}: {p.Name} holds a non-finite value ({v}); θ must start finite.");
            data.CopyTo(values.AsSpan(p.Offset, p.Count));
            taken.Add(p.Name);
        }
        if (taken.Count == 0)
            throw new ArgumentException($"{path} names none of this run's parameters ({initial.Layout.Describe()}).");
        var kept = initial.Layout.Parameters.Select(p => p.Name).Where(name => !taken.Contains(name)).ToList();
        return new Outcome(new ParameterSet(initial.Layout, values), taken, kept, skipped);
    }

    private static Dictionary<string, Tensor> Load(string path, ThetaExport.Format format)
    {
        try
        {
            return format == ThetaExport.Format.PyTorch ? FromPt(path) : Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not (ArgumentException or OutOfMemoryException))
        {
            throw new ArgumentException(format == ThetaExport.Format.PyTorch
                ? $"{path} is not a state_dict torch.save wrote ({e.Message}); save model.state_dict(), not the model object."
                : $"{path} is not a safetensors file ({e.Message}).", e);
        }
    }

    /// <summary>torch.save's state_dict, keyed by name (PyBridge hands back a Hashtable).</summary>
    private static Dictionary<string, Tensor> FromPt(string path)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry entry in PyTorchUnpickler.UnpickleStateDict(path))
        {
            if (entry.Key is not string name || entry.Value is not Tensor tensor)
                throw new ArgumentException($"{path} is not a state_dict of named tensors (found {entry.Key} → {entry.Value?.GetType().Name ?? "null"}); save model.state_dict().");
            tensors.Add(name, tensor);
        }
        return tensors;
    }
}
