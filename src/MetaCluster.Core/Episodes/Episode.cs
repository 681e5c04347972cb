using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// One few-shot task: a support set to adapt on and a query set to evaluate on. For classification the targets are
/// int64 labels 0..Ways-1 (remapped per episode); for regression they are float tensors shaped like the predictions.
/// <see cref="Index"/> identifies the episode within its run, so contributions can be ordered whoever computed them.
/// </summary>
public sealed class Episode : IDisposable
{
    public Episode(long index, TaskKind kind, int ways, Tensor supportX, Tensor supportY, Tensor queryX, Tensor queryY)
    {
        Index = index;
        Kind = kind;
        Ways = ways;
        SupportX = supportX;
        SupportY = supportY;
        QueryX = queryX;
        QueryY = queryY;
    }

    public long Index { get; }
    public TaskKind Kind { get; }
    public int Ways { get; }
    public Tensor SupportX { get; }
    public Tensor SupportY { get; }
    public Tensor QueryX { get; }
    public Tensor QueryY { get; }

    /// <summary>The same episode with inputs (and regression targets) in another floating dtype, e.g. float64 for gradient checks.</summary>
    public Episode To(ScalarType dtype) => new(Index, Kind, Ways,
        SupportX.to_type(dtype), Kind == TaskKind.Regression ? SupportY.to_type(dtype) : SupportY.alias(),
        QueryX.to_type(dtype), Kind == TaskKind.Regression ? QueryY.to_type(dtype) : QueryY.alias());

    /// <summary>
    /// The episode on <paramref name="device"/>: this one itself on the CPU (no copy); otherwise a copy there, and this
    /// one is disposed (the caller hands over ownership either way).
    /// </summary>
    public Episode MoveTo(Device device)
    {
        if (device.type == DeviceType.CPU) return this;
        try
        {
            return new Episode(Index, Kind, Ways, SupportX.to(device), SupportY.to(device), QueryX.to(device), QueryY.to(device));
        }
        finally
        {
            Dispose();
        }
    }

    public void Dispose()
    {
        SupportX.Dispose();
        SupportY.Dispose();
        QueryX.Dispose();
        QueryY.Dispose();
    }
}
