using System.Globalization;
using TorchSharp;

namespace MetaCluster.Core.Runtime;

/// <summary>
/// Where a process computes: the CPU or one CUDA GPU ("cpu", "cuda", "cuda:N"). It belongs to the process — a worker
/// silo's slots all compute on its device — not to the run: θ, the outer step and checkpoints are plain float32 on the
/// CPU, so a run may be resumed on another device. Bits are promised per device type (docs/gpu.md): a run trained on a
/// GPU and resumed on the CPU continues correctly, but not with the bits a CPU-only run would have had.
/// </summary>
public sealed record ComputeDevice
{
    public static readonly ComputeDevice Cpu = new(DeviceType.CPU, null);

    private ComputeDevice(DeviceType type, int? index)
    {
        Type = type;
        Index = index;
    }

    public DeviceType Type { get; }

    /// <summary>The GPU ordinal for "cuda:N"; null for the CPU and for plain "cuda" (GPU 0, libtorch's current device).</summary>
    public int? Index { get; }

    public bool IsCpu => Type == DeviceType.CPU;
    public bool IsCuda => Type == DeviceType.CUDA;

    /// <summary>The spelling <see cref="Parse"/> reads and the silo label carries: "cpu", "cuda", "cuda:1".</summary>
    public string Name => IsCpu ? "cpu" : Index is { } i ? $"cuda:{i}" : "cuda";

    public override string ToString() => Name;

    /// <summary>TorchSharp's device (creating it touches no native code).</summary>
    public torch.Device ToTorch() => IsCpu ? torch.CPU : new torch.Device(DeviceType.CUDA, Index ?? 0);

    /// <summary>Reads "cpu", "cuda" or "cuda:N"; anything else is an error naming the accepted forms.</summary>
    public static ComputeDevice Parse(string? text)
    {
        string value = (text ?? "").Trim();
        if (value.Equals("cpu", StringComparison.OrdinalIgnoreCase)) return Cpu;
        if (value.Equals("cuda", StringComparison.OrdinalIgnoreCase)) return new ComputeDevice(DeviceType.CUDA, null);
        if (value.StartsWith("cuda:", StringComparison.OrdinalIgnoreCase))
        {
            string ordinal = value["cuda:".Length..];
            if (ordinal.Length > 0 && ordinal.All(char.IsAsciiDigit)
                && int.TryParse(ordinal, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                return new ComputeDevice(DeviceType.CUDA, index);
            throw new ArgumentException($"'{value}' is not a device: after 'cuda:' comes a GPU number (0, 1, …), e.g. cuda:0.");
        }
        throw new ArgumentException($"'{value}' is not a device: use cpu, cuda (the first GPU) or cuda:N (GPU number N).");
    }
}
