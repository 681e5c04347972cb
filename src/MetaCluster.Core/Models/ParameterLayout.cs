namespace MetaCluster.Core.Models;

/// <summary>The name and shape of one parameter tensor, and where it sits in the flat vector.</summary>
public sealed record ParameterInfo(string Name, long[] Shape, int Offset)
{
    public int Count { get; } = checked((int)Shape.Aggregate(1L, (a, b) => a * b));
}

/// <summary>
/// The ordered names and shapes of a model's parameters: the contract between a flat <c>float[]</c> (wire,
/// checkpoint, optimizer) and the list of tensors a functional model takes.
/// </summary>
public sealed class ParameterLayout
{
    public ParameterLayout(IEnumerable<(string Name, long[] Shape)> parameters)
    {
        var list = new List<ParameterInfo>();
        int offset = 0;
        foreach (var (name, shape) in parameters)
        {
            var info = new ParameterInfo(name, shape, offset);
            list.Add(info);
            offset = checked(offset + info.Count);
        }
        Parameters = list;
        TotalCount = offset;
    }

    public IReadOnlyList<ParameterInfo> Parameters { get; }
    public int TotalCount { get; }
    public int Count => Parameters.Count;
    public ParameterInfo this[int index] => Parameters[index];

    /// <summary>A layout of the parameters [start, end), re-based at offset 0.</summary>
    public ParameterLayout Slice(int start, int end) =>
        new(Parameters.Skip(start).Take(end - start).Select(p => (p.Name, p.Shape)));

    public ParameterLayout Concat(ParameterLayout other) =>
        new(Parameters.Concat(other.Parameters).Select(p => (p.Name, p.Shape)));

    /// <summary>"conv1.weight[64,1,3,3], …" — for error messages and checkpoints.</summary>
    public string Describe() => string.Join(", ", Parameters.Select(p => $"{p.Name}[{string.Join(",", p.Shape)}]"));

    public bool SameAs(ParameterLayout other) =>
        Count == other.Count && Parameters.Zip(other.Parameters)
            .All(pair => pair.First.Name == pair.Second.Name && pair.First.Shape.SequenceEqual(pair.Second.Shape));
}
