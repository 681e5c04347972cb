using System.CommandLine;
using MetaCluster.Core.Runtime;

namespace MetaCluster.Cli.Options;

/// <summary>
/// <c>--device cpu|cuda|cuda:N</c> for the commands that compute (train, evaluate, adapt, bench): where this process
/// computes. Not part of the run's config — θ and checkpoints are the same plain floats on any device — so a run may be
/// resumed or evaluated on another one (its bits then follow that device type: docs/gpu.md).
/// </summary>
public static class DeviceOption
{
    public static Option<ComputeDevice> Create() => new("--device")
    {
        Description = "where to compute: cpu (default), cuda (the first GPU) or cuda:N; with an embedded silo, its worker slots' device",
        HelpName = "DEVICE",
        DefaultValueFactory = _ => ComputeDevice.Cpu,
        CustomParser = result =>
        {
            string text = string.Join(' ', result.Tokens.Select(t => t.Value));
            try
            {
                return ComputeDevice.Parse(text);
            }
            catch (ArgumentException e)
            {
                result.AddError($"--device: {e.Message}");
                return ComputeDevice.Cpu;
            }
        },
    };
}
