using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Training;

/// <summary>
/// A run's episode sources. Sources are read-only once loaded and safe to sample from several threads, so one load
/// serves every run (and worker slot) of a process that reads the same data.
/// </summary>
public sealed record RunData(IEpisodeSource Train, IEpisodeSource? Validation, IEpisodeSource Test, string Description)
{
    /// <summary>What the loaded data depends on: configs with the same key share one <see cref="RunData"/>.</summary>
    public static string KeyOf(TrainingConfig config) =>
        $"{config.Dataset}|{config.DataDir}|{config.Split}|{config.Rotate}|{config.ValidationClasses}|{config.SplitCsvDir}";
}
