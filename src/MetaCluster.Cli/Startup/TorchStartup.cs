using MetaCluster.Core.Runtime;
using TorchSharp;

namespace MetaCluster.Cli.Startup;

/// <summary>
/// Loads libtorch (with a clear error if it cannot be loaded), and CUDA when the device is a GPU, and sets its thread
/// count before any tensor work.
/// </summary>
public static class TorchStartup
{
    public static void Initialize(int threads, ComputeDevice? device = null)
    {
        if (threads < 1) throw new ArgumentException($"threads must be at least 1 (got {threads}).");
        TorchRuntime.EnsureLoaded(device ?? ComputeDevice.Cpu);
        torch.set_num_threads(threads);
    }

    /// <summary>libtorch's version as Python's torch.__version__ writes it ("2.10.0"; TorchSharp reports "2.10.0.0").</summary>
    public static string Version
    {
        get
        {
            string version = torch.__version__;
            var parts = version.Split('.');
            return parts.Length == 4 && parts[3] == "0" ? string.Join('.', parts[..3]) : version;
        }
    }
}
