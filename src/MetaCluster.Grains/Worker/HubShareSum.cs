using System.Buffers;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// A silo hub's exact sum for one share, and the record of which episodes it holds: the slots of the hub's silo add
/// into it directly (<see cref="WorkRequest.ShareSum"/>), member hubs' partial sums and slots' vectors go in as their
/// replies arrive, and when every call has answered the hub <see cref="Seal"/>s it — from then on nothing more is taken,
/// and the record says exactly what the sum holds, whatever happened to the calls: an episode in it counts (even if
/// its slot's call failed afterwards), one not in it is a failure or goes back to the coordinator.
/// One sum for the silo's slots instead of one each: 32 simulated workers spent most of their CPU adding vectors into
/// eight 900 KB sums a process, out of cache, and the hub then merged them (docs/benchmarks.md, session 27).
/// </summary>
public sealed class HubShareSum(ExactSum sum) : IHubShareSum
{
    private readonly Dictionary<long, EpisodeContribution> _in = [];
    private readonly Lock _lock = new();
    private bool _sealed;
    /// <summary>Why the sum can no longer be trusted: a partial sum failed part-way in (its bytes may be half added).</summary>
    private string? _broken;

    public bool TryAdd(EpisodeContribution episode, ReadOnlySpan<float> values)
    {
        lock (_lock)
        {
            if (_sealed || _in.ContainsKey(episode.Episode)) return false;
            sum.Add(values, $"episode {episode.Episode}"); // whole or nothing: a refused vector leaves the sum as it was
            _in.Add(episode.Episode, episode);
            return true;
        }
    }

    /// <summary>
    /// A partial sum in its wire form holding <paramref name="episodes"/> (a member hub's, or a slot's that crossed a
    /// process): all of it, or — sealed, or naming an episode already in — none (false).
    /// </summary>
    public bool TryAddPartial(ReadOnlySequence<byte> wire, IReadOnlyList<EpisodeContribution> episodes, string source)
    {
        lock (_lock)
        {
            if (_sealed || episodes.Any(e => _in.ContainsKey(e.Episode)) || episodes.DistinctBy(e => e.Episode).Count() != episodes.Count) return false;
            long before = sum.Count;
            try
            {
                sum.AddBytes(wire, source);
            }
            catch (Exception e)
            {
                _broken = $"{source} could not be added ({e.GetType().Name}: {e.Message})";
                throw;
            }
            // A sum must hold exactly the episodes it names (the coordinator checks the round's total the same way).
            if (sum.Count - before != episodes.Count)
            {
                _broken = $"{source} names {episodes.Count} episodes but holds {sum.Count - before} contributions";
                throw new InvalidOperationException(_broken + ".");
            }
            foreach (var e in episodes) _in.Add(e.Episode, e);
            return true;
        }
    }

    /// <summary>Takes nothing more, from now on: before the sum goes back to its pool, whatever happened to the hub's call.</summary>
    public void Close()
    {
        lock (_lock) _sealed = true;
    }

    /// <summary>
    /// Takes nothing more; returns the sum and what it holds, by episode — or throws if a partial sum broke it, and the
    /// hub's call fails as a whole (the coordinator deals its share to other silos).
    /// </summary>
    public (ExactSum Sum, IReadOnlyDictionary<long, EpisodeContribution> Episodes) Seal()
    {
        lock (_lock)
        {
            _sealed = true;
            if (_broken is not null) throw new InvalidOperationException($"the silo hub's sum is unusable: {_broken}.");
            return (sum, _in);
        }
    }
}
