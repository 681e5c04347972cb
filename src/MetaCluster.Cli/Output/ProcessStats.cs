namespace MetaCluster.Cli.Output;

/// <summary>Process-level figures for benchmark reports.</summary>
public static class ProcessStats
{
    /// <summary>Peak resident set size in MiB (VmHWM from /proc/self/status), or null where that file does not exist.</summary>
    public static double? PeakRssMegabytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        foreach (string line in File.ReadLines(status))
        {
            if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], out long kilobytes)) return Math.Round(kilobytes / 1024.0, 1);
        }
        return null;
    }
}
