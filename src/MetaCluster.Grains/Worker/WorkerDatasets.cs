using System.Collections.Concurrent;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// The data a worker process has loaded: each data set once per process, shared by every slot and every run that
/// reads it (episode sources are read-only and safe to sample from several compute threads). A load that fails is
/// forgotten, so the next run tries again.
/// </summary>
public sealed class WorkerDatasets
{
    private readonly ConcurrentDictionary<string, Lazy<RunData>> _loaded = new();

    public RunData Get(TrainingConfig config)
    {
        string key = RunData.KeyOf(config);
        var entry = _loaded.GetOrAdd(key, _ => new Lazy<RunData>(() => RunFactory.LoadData(config)));
        try
        {
            return entry.Value;
        }
        catch
        {
            _loaded.TryRemove(new KeyValuePair<string, Lazy<RunData>>(key, entry));
            throw;
        }
    }
}
