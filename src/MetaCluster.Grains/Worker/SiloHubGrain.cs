using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Bulk;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// Per-silo dispatch (<see cref="ISiloHubGrain"/>): one call from the coordinator per silo and round, fanned out to
/// the silo's own slots and summed here. The slots are called locally, so θ's bytes are shared, not copied
/// (<see cref="WorkRequest"/> is immutable), and with pre-summing they add each episode straight into the hub's exact
/// sum for the share (<see cref="HubShareSum"/>, lent with the request; its memory from the silo's
/// <see cref="ShareSumPool"/>), so θ has the bits of per-slot dispatch. A hub leading a group
/// (<see cref="WorkRequest.Members"/>) deals part of the share to the group's other hubs too and adds their partial sums
/// as their replies arrive (thread pool, off the grain scheduler). The hub is reentrant: it holds no state between calls.
/// </summary>
[WorkerSlotPlacement, WorkerSiloPlacementFilter, Reentrant]
public sealed class SiloHubGrain(ILocalSiloDetails silo, IOptions<MetaClusterSiloOptions> options, ShareSumPool sums, BulkChannel bulk, ThetaBuffers thetas)
    : Grain, ISiloHubGrain
{
    /// <summary>Where part of a share can go: a slot of this silo (weight 1) or a group member's hub (weight: its slots).</summary>
    private sealed record Target(int Weight, Func<long[], HubShareSum?, Task<WorkResult>> Call);

    public async Task<WorkResult> Contribute(WorkRequest request)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        if (request.ThetaTicket is not { } ticket) return await Contribute(request, watch);
        // θ waits at the coordinator's bulk channel: fetched once into a reused array, which the slots read in place,
        // and the partial sum goes back the same way (the caller reads the channel, or it would not have sent a ticket).
        var theta = thetas.Rent(ticket.Length);
        BulkTicket? relay = null;
        try
        {
            await bulk.Fetch(ticket, theta);
            watch.Restart(); // the fetch is transfer, like a message's: the round's split counts it outside the worker
            // A group's leader passes θ on from its own channel: the coordinator's θ goes out once a group, not once a
            // silo — a broadcast tree, as the partial sums come back up an aggregation tree.
            if (request.Members.Length > 0 && bulk.Enabled) relay = bulk.PublishShared(theta);
            var result = await Contribute(request.WithTheta(theta, relay), watch);
            return result.HasPartialSum && bulk.Enabled ? result.WithSumTicket(bulk.PublishOnce(result.PartialSum)) : result;
        }
        finally
        {
            // Every slot and member call has answered: nothing reads θ any more.
            if (relay is { } copy) bulk.Withdraw(copy);
            thetas.Return(theta);
        }
    }

    private async Task<WorkResult> Contribute(WorkRequest request, System.Diagnostics.Stopwatch watch)
    {
        string here = silo.SiloAddress.ToParsableString();
        var targets = Targets(here, request);
        var shares = Deal(request.Episodes, targets.Select(t => t.Weight).ToArray());
        // The share's sum comes from the silo's pool (a fresh one was a large-object allocation a round) and is lent to
        // the slots, which add into it directly.
        var accumulator = request.PreSum ? sums.Rent(request.Theta.Length / sizeof(float)) : null;
        var shared = accumulator is null ? null : new HubShareSum(accumulator.Sum);
        Merged result;
        try
        {
            var calls = shares.Select((share, i) => (Share: share, Target: targets[i])).Where(c => c.Share.Length > 0)
                .Select(c => (c.Share, Reply: c.Target.Call(c.Share, shared))).ToArray();
            result = await Task.Run(() => Merge(request.Episodes, calls, shared));
        }
        finally
        {
            // Closed before it goes back to the pool, however this call ends: a slot still computing cannot add into it then.
            shared?.Close();
            accumulator?.Release();
        }
        return new WorkResult
        {
            Worker = this.GetPrimaryKeyString(), Silo = here, Contributions = result.Contributions, Failures = result.Failures,
            HandedBack = result.HandedBack, PartialSum = result.PartialSum, AlsoFrom = result.AlsoFrom.Where(s => s != here).ToArray(),
            Seconds = watch.Elapsed.TotalSeconds,
        };
    }

    /// <summary>This silo's slots and, leading a group, the group's other hubs.</summary>
    private Target[] Targets(string here, WorkRequest request)
    {
        if (request.MemberSlots.Length != request.Members.Length)
            throw new ArgumentException($"a hub group of {request.Members.Length} other hubs came with {request.MemberSlots.Length} slot counts.");
        var slots = Enumerable.Range(0, options.Value.Slots).Select(slot => new Target(1,
            (share, shared) => GrainFactory.GetGrain<ITaskWorkerGrain>(WorkerKey.Create(here, slot)).Contribute(request.ForShare(share, shared))));
        var members = request.Members.Select((hub, i) => new Target(request.MemberSlots[i],
            (share, _) => bulk.ReceiveSum(GrainFactory.GetGrain<ISiloHubGrain>(hub).Contribute(request.ForMember(share)))));
        return [.. slots, .. members];
    }

    /// <summary>
    /// The share over targets of the given weights (a slot 1, a member hub its slots): the targets' weight units are
    /// taken in turn — one unit of every target, then a second of those with two, … — and episode i goes to unit i mod
    /// units, so a share smaller than the group still spreads over silos, and the busiest unit has ⌈n / units⌉ episodes.
    /// A target no episode reaches gets an empty share.
    /// </summary>
    internal static long[][] Deal(long[] episodes, int[] weights)
    {
        if (weights.Length == 0 || weights.Any(w => w < 1)) throw new ArgumentException($"targets need a weight of 1 or more (got [{string.Join(", ", weights)}]).");
        var units = Enumerable.Range(0, weights.Max()).SelectMany(round => Enumerable.Range(0, weights.Length).Where(t => weights[t] > round)).ToArray();
        var shares = weights.Select(_ => new List<long>()).ToArray();
        for (int i = 0; i < episodes.Length; i++) shares[units[i % units.Length]].Add(episodes[i]);
        return shares.Select(s => s.ToArray()).ToArray();
    }

    private sealed record Merged(EpisodeContribution[] Contributions, EpisodeFailure[] Failures, long[] HandedBack, PooledBuffer PartialSum, string[] AlsoFrom);

    /// <summary>What one slot's or member hub's reply adds to the merged result (with pre-summing, its sum already in the hub's).</summary>
    private sealed record Part(List<EpisodeContribution> Contributions, List<EpisodeFailure> Failures, long[] HandedBack, string[] Silos);

    /// <summary>
    /// The replies of the slots and member hubs as one. With pre-summing the slots have added their episodes into
    /// <paramref name="shared"/> as they computed them; a member's partial sum, and any episode a slot sent as a vector,
    /// goes in as its reply arrives (the sum is order-free), so only the last episode's add is left when the last slot
    /// finishes. Once every call has answered the sum is sealed, and what it holds is the result: its episodes in the
    /// share's order, and every other episode a failure (an episode whose vector the exact sum refused names why, one
    /// whose call failed says so) or handed back. Without pre-summing the slots' vectors pass through.
    /// </summary>
    private static async Task<Merged> Merge(long[] episodes, (long[] Share, Task<WorkResult> Reply)[] replies, HubShareSum? shared)
    {
        var parts = new Part[replies.Length];
        var position = replies.Select((r, i) => (r.Reply, i)).ToDictionary(r => (Task)r.Reply, r => r.i);
        await foreach (var reply in Task.WhenEach(replies.Select(r => r.Reply)))
        {
            int i = position[reply];
            parts[i] = Take(replies[i].Share, reply, shared);
        }
        string[] silos = [.. parts.SelectMany(p => p.Silos).Distinct().Order(StringComparer.Ordinal)];
        if (shared is null)
            return new Merged([.. parts.SelectMany(p => p.Contributions)], [.. parts.SelectMany(p => p.Failures)], [.. parts.SelectMany(p => p.HandedBack)], new PooledBuffer(), silos);
        var (sum, held) = shared.Seal();
        var partialSum = new PooledBuffer();
        if (held.Count > 0) sum.WriteTo(ref partialSum);
        return new Merged([.. episodes.Where(held.ContainsKey).Select(e => held[e])], [.. parts.SelectMany(p => p.Failures).Where(f => !held.ContainsKey(f.Episode))],
            [.. parts.SelectMany(p => p.HandedBack).Where(e => !held.ContainsKey(e))], partialSum, silos);
    }

    /// <summary>One finished reply: a failed call becomes failures of its share; a partial sum or vectors go into <paramref name="shared"/>.</summary>
    private static Part Take(long[] share, Task<WorkResult> reply, HubShareSum? shared)
    {
        var failures = new List<EpisodeFailure>();
        if (!reply.IsCompletedSuccessfully)
        {
            var error = reply.Exception?.GetBaseException() is { } e ? $"{e.GetType().Name}: {e.Message}" : "the call was cancelled";
            failures.AddRange(share.Select(episode => new EpisodeFailure { Episode = episode, Error = $"slot or group hub call failed ({error})" }));
            return new Part([], failures, [], []);
        }
        var result = reply.Result;
        string[] silos = result.Contributions.Length > 0 ? [result.Silo, .. result.AlsoFrom] : [];
        failures.AddRange(result.Failures);
        if (shared is null) return new Part([.. result.Contributions], failures, result.HandedBack, silos);
        if (result.HasPartialSum)
        {
            var partial = result.PartialSum;
            try
            {
                if (shared.AddPartial(partial.AsReadOnlySequence(), result.Contributions, $"the partial sum of {result.Worker}") is { } refused)
                    failures.AddRange(result.Contributions.Select(c => new EpisodeFailure { Episode = c.Episode, Error = refused }));
            }
            finally
            {
                partial.Dispose();
            }
            return new Part([], failures, result.HandedBack, silos);
        }
        // Episodes without values are in the hub's sum already (their slot added them); vectors go in now.
        foreach (var c in result.Contributions.Where(c => c.Values.Length > 0))
        {
            try
            {
                var metrics = new EpisodeContribution
                {
                    Episode = c.Episode, Values = [], PreLoss = c.PreLoss, PostLoss = c.PostLoss, PreAccuracy = c.PreAccuracy, PostAccuracy = c.PostAccuracy,
                };
                if (!shared.TryAdd(metrics, FloatBytes.AsFloats(c.Values)))
                    failures.Add(new EpisodeFailure { Episode = c.Episode, Error = $"slot {result.Worker} sent episode {c.Episode} twice" });
            }
            catch (OverflowException e)
            {
                failures.Add(new EpisodeFailure { Episode = c.Episode, Error = $"{e.GetType().Name}: {e.Message}" });
            }
        }
        return new Part([], failures, result.HandedBack, silos);
    }
}
