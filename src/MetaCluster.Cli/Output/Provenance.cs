using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json.Nodes;

namespace MetaCluster.Cli.Output;

/// <summary>
/// Where a JSON result came from — the exact command line, the machine and the wall time — so a results table built
/// from the JSON lines (bench/results.py → docs/results.md) never asks anyone to retype them.
/// </summary>
public static class Provenance
{
    /// <summary>Adds <c>command_line</c>, <c>machine</c> and <c>wall_seconds</c> unless the report already has them.</summary>
    public static void AddTo(JsonObject report)
    {
        report["command_line"] ??= CommandLine();
        report["machine"] ??= Machine();
        // From process start: data loading and startup count, as they do for whoever runs the command.
        report["wall_seconds"] ??= Math.Round((DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds, 2);
    }

    /// <summary>"metacluster" and the arguments as given, each quoted for a POSIX shell when it needs to be.</summary>
    public static string CommandLine() =>
        string.Join(' ', ["metacluster", .. Environment.GetCommandLineArgs().Skip(1).Select(Quote)]);

    /// <summary>CPU model, its widest vector extension, and the cores the process may use.</summary>
    public static JsonObject Machine() => new()
    {
        ["cpu"] = CpuModel(),
        // What the CPU offers; libtorch's kernels are pinned to AVX2 either way (Runtime/NumericalReproducibility.cs).
        ["isa"] = Avx512F.IsSupported ? "AVX-512" : Avx2.IsSupported ? "AVX2" : "no AVX2",
        ["cores"] = Environment.ProcessorCount,
    };

    private static string CpuModel()
    {
        try
        {
            const string cpuinfo = "/proc/cpuinfo";
            if (File.Exists(cpuinfo))
                foreach (string line in File.ReadLines(cpuinfo))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall through: a missing model name must not cost the result.
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@%+".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''") + "'";
}
