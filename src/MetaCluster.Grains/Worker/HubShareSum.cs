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
/// eight 900 KB sums a process, out of cache, and the hub then merged them (docs/benchmarks.md, session 27). The slots
/// add into it side by side (<see cref="ConcurrentExactSum"/>), so a seal waits for the adds under way.
/// </summary>
public sealed class HubShareSum(ExactSum sum) : IHubShareSum
{
    /// <summary>The slots add side by side, each on its own stripe of the sum at a time (a node's slots often finish together).</summary>
    private readonly ConcurrentExactSum _sum = new(sum);
    private readonly Dictionary<long, EpisodeContribution> _in = [];
    /// <summary>Episodes whose add is under way: not in <see cref="_in"/> yet, and not to be added twice.</summary>
    private readonly HashSet<long> _adding = [];
    private readonly object _gate = new();
    private int _inFlight;
    private bool _sealed;
    /// <summary>Why the sum can no longer be trusted: a partial sum failed part-way in (its bytes may be half added).</summary>
    private string? _broken;

    public bool TryAdd(EpisodeContribution episode, ReadOnlySpan<float> values)
    {
        if (!Begin([episode])) return false;
        bool added = false;
        try
        {
            _sum.Add(values, $"episode {episode.Episode}"); // whole or nothing: a refused vector leaves the sum as it was
            added = true;
        }
        finally
        {
            End([episode], added);
        }
        return true;
    }

    /// <summary>
    /// A partial sum in its wire form holding <paramref name="episodes"/> (a member hub's, or a slot's that crossed a
    /// process): all of it, and null — or none of it, and why: the sum is sealed, it names an episode already in, or it
    /// does not hold what it names (a malformed header, another number of contributions). Those leave the hub's sum as it
    /// was, so only the sender's episodes fail (the coordinator deals them again) and the rest of the share stands. A
    /// running total leaving the range part-way through the add breaks the sum instead (<see cref="Seal"/> then throws).
    /// </summary>
    public string? AddPartial(ReadOnlySequence<byte> wire, IReadOnlyList<EpisodeContribution> episodes, string source)
    {
        if (episodes.DistinctBy(e => e.Episode).Count() != episodes.Count || !Begin(episodes))
            return $"{source} names an episode the silo hub already holds, or came after its answer";
        bool added = false;
        try
        {
            try
            {
                _sum.AddBytes(wire, source, expected: episodes.Count);
            }
            catch (PartialSumRefusedException e)
            {
                return e.Message.TrimEnd('.'); // nothing of it went in
            }
            catch (Exception e)
            {
                Break($"{source} could not be added ({e.GetType().Name}: {e.Message})");
                throw;
            }
            added = true;
        }
        finally
        {
            End(episodes, added);
        }
        return null;
    }

    /// <summary>Takes nothing more, from now on, and waits for adds under way: before the sum goes back to its pool, whatever happened to the hub's call.</summary>
    public void Close()
    {
        lock (_gate) SealAndDrain();
    }

    /// <summary>
    /// Takes nothing more and waits for adds under way; returns the sum and what it holds, by episode — or throws if a
    /// partial sum broke it, and the hub's call fails as a whole (the coordinator deals its share to other silos).
    /// </summary>
    public (ExactSum Sum, IReadOnlyDictionary<long, EpisodeContribution> Episodes) Seal()
    {
        lock (_gate)
        {
            SealAndDrain();
            if (_broken is not null) throw new InvalidOperationException($"the silo hub's sum is unusable: {_broken}.");
            return (_sum.Complete(), _in);
        }
    }

    /// <summary>Claims the episodes for an add: false if the sum is sealed or any of them is in it or on its way in.</summary>
    private bool Begin(IReadOnlyList<EpisodeContribution> episodes)
    {
        lock (_gate)
        {
            if (_sealed || episodes.Any(e => _in.ContainsKey(e.Episode) || _adding.Contains(e.Episode))) return false;
            foreach (var e in episodes) _adding.Add(e.Episode);
            _inFlight++;
            return true;
        }
    }

    /// <summary>Ends an add: its episodes are in the sum's record if it went in, and a seal waiting for it goes on.</summary>
    private void End(IReadOnlyList<EpisodeContribution> episodes, bool added)
    {
        lock (_gate)
        {
            foreach (var e in episodes)
            {
                _adding.Remove(e.Episode);
                if (added) _in.Add(e.Episode, e);
            }
            if (--_inFlight == 0) Monitor.PulseAll(_gate);
        }
    }

    private void SealAndDrain()
    {
        _sealed = true;
        while (_inFlight > 0) Monitor.Wait(_gate);
    }

    private void Break(string why)
    {
        lock (_gate) _broken ??= why;
    }
}
