using MetaCluster.Contracts;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Deals a round's episodes to workers and gets every one computed, whatever happens to the workers:
/// a worker whose call fails or misses its deadline is dropped for the round and its unfinished episodes go to the
/// others (redispatched); an episode a worker reports as failed is retried once on another worker — preferably on
/// another silo — and a second failure stops the round naming the episode. Each worker has a queue of episodes
/// and at most one call in flight; a call carries at most <paramref name="episodesPerCall"/> episodes, so its reply
/// stays inside the message size limit. Which worker computed what does not matter for the result: contributions
/// are keyed by episode index and aggregated in index order.
/// When every worker of the round is lost, <paramref name="workerWait"/> (if given) waits for workers that joined
/// since — not those dropped in this round — and the round goes on with them; none within its time fails the round.
/// <paramref name="liveWorkers"/> hears the count of live workers whenever it changes (0 while waiting).
/// A pre-summed share goes to <paramref name="takeShare"/> the moment it is accepted, if given (the coordinator adds it
/// while the other calls are out), and otherwise into the outcome's <see cref="RoundOutcome.Shares"/>.
/// </summary>
internal sealed class RoundDispatcher(
    Func<string, long[], Task<WorkResult>> call, Func<int, TimeSpan> deadline, int episodesPerCall, FaultCounters counters, ILogger logger,
    WorkerWait? workerWait = null, Action<int>? liveWorkers = null, Func<string, int>? slotsOf = null, Action<long[], PooledBuffer>? takeShare = null)
{
    /// <summary>Live slots: a worker counts 1, a silo's hub all of its slots.</summary>
    private int LiveSlots(State state) => state.Live.Sum(slotsOf ?? (_ => 1));

    public async Task<RoundOutcome> Run(long round, IReadOnlyList<string> workers, long[] episodes)
    {
        var state = new State(workers);
        Deal(state, round, episodes);
        long dispatched = System.Diagnostics.Stopwatch.GetTimestamp();
        Launch(state, round);
        while (state.Results.Count < episodes.Length)
        {
            if (state.InFlight.Count == 0)
            {
                await WaitForWorkers(state, round, episodes);
                Launch(state, round);
                continue;
            }
            var done = await Task.WhenAny(state.InFlight.Keys);
            var (worker, share, sent) = state.InFlight[done];
            state.InFlight.Remove(done);
            try
            {
                var result = await done;
                Accept(state, round, worker, share, result);
                state.Last = new LastReply(System.Diagnostics.Stopwatch.GetElapsedTime(sent).TotalSeconds, result.Seconds);
            }
            catch (Exception e) when (e is not RoundFailedException)
            {
                // A dead silo, a deadline missed, a worker that could not build the run: its share is computed elsewhere.
                Drop(state, worker);
                state.WorkerErrors.Add($"{worker}: {e.GetType().Name}: {e.Message}");
                var lost = share.Concat(state.Queues[worker]).Where(i => !state.Results.ContainsKey(i)).ToArray();
                state.Queues[worker].Clear();
                counters.Redispatched += lost.Length;
                logger.LogWarning("Round {Round}: worker {Worker} failed ({Error}); redispatching episodes {Episodes}.",
                    round, worker, $"{e.GetType().Name}: {e.Message}", Describe(lost));
                Deal(state, round, lost);
            }
            Launch(state, round);
        }
        var contributions = episodes.Select(i => state.Results[i]).ToArray();
        return new RoundOutcome(contributions, state.Shares, LiveSlots(state), state.Silos.Order(StringComparer.Ordinal).ToArray())
        {
            Last = state.Last, DispatchSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(dispatched).TotalSeconds, ShareBytes = state.ShareBytes,
        };
    }

    private void Accept(State state, long round, string worker, long[] share, WorkResult result)
    {
        if (result.HandedBack.Length > 0)
        {
            // The worker's silo is shutting down: it takes no more of this round, and what it held goes to the others.
            Drop(state, worker);
            var returned = result.HandedBack.Where(share.Contains).Concat(state.Queues[worker]).Where(i => !state.Results.ContainsKey(i)).Distinct().ToArray();
            state.Queues[worker].Clear();
            counters.Redispatched += returned.Length;
            logger.LogInformation("Round {Round}: worker {Worker} is shutting down and handed back episodes {Episodes}.", round, worker, Describe(returned));
            Deal(state, round, returned);
        }
        if (result.HasPartialSum)
        {
            var sum = result.PartialSum;
            // A pre-summed share counts whole or not at all: its sum cannot be split if an episode were already in.
            var episodes = result.Contributions.Select(c => c.Episode).ToArray();
            if (episodes.All(share.Contains) && !episodes.Any(state.Results.ContainsKey) && episodes.Distinct().Count() == episodes.Length)
            {
                foreach (var c in result.Contributions) state.Results.Add(c.Episode, c);
                if (episodes.Length > 0)
                {
                    state.ShareBytes += sum.Length;
                    if (takeShare is not null) takeShare(episodes, sum);
                    else state.Shares.Add((episodes, sum));
                    state.Silos.UnionWith([result.Silo, .. result.AlsoFrom]);
                }
            }
            else
            {
                sum.Dispose(); // not counted: its memory goes back to the pool now
            }
        }
        else
        {
            bool accepted = false;
            foreach (var c in result.Contributions)
                accepted |= share.Contains(c.Episode) && state.Results.TryAdd(c.Episode, c);
            if (accepted) state.Silos.UnionWith([result.Silo, .. result.AlsoFrom]);
        }
        var retry = new List<long>();
        foreach (var f in result.Failures.Where(f => share.Contains(f.Episode)))
        {
            var attempts = state.Failures.TryGetValue(f.Episode, out var list) ? list : state.Failures[f.Episode] = [];
            attempts.Add((worker, f.Error));
            if (attempts.Count >= 2)
                throw new RoundFailedException($"round {round}: episode {f.Episode} failed on two workers — " +
                    string.Join("; ", attempts.Select(a => $"{a.Worker}: {a.Error}")));
            logger.LogWarning("Round {Round}: episode {Episode} failed on {Worker} ({Error}); retrying it on another worker.", round, f.Episode, worker, f.Error);
            counters.Retried++;
            retry.Add(f.Episode);
        }
        // An episode the reply neither computed nor reported is a worker fault: compute it elsewhere.
        var missing = share.Where(i => !state.Results.ContainsKey(i) && !result.Failures.Any(f => f.Episode == i) && !result.HandedBack.Contains(i)).ToArray();
        counters.Redispatched += missing.Length;
        Deal(state, round, [.. retry, .. missing]);
    }

    private void Drop(State state, string worker)
    {
        if (state.Live.Remove(worker)) state.Dropped.Add(worker);
        liveWorkers?.Invoke(LiveSlots(state));
    }

    /// <summary>
    /// Every worker of the round is gone and episodes are left: wait (bounded) for new workers, deal them what is left.
    /// Without a <see cref="WorkerWait"/>, or when none joins in time, the round fails naming the episodes.
    /// </summary>
    private async Task WaitForWorkers(State state, long round, long[] episodes)
    {
        string Failure(string more) => $"round {round}: no live worker is left to compute episodes {Describe(state.Unfinished(episodes))}{more}; " +
            $"worker errors: {string.Join("; ", state.WorkerErrors)}.";
        if (workerWait is null) throw new RoundFailedException(Failure(""));
        logger.LogWarning("Round {Round}: no live worker is left; waiting up to {Seconds:F0} s for a worker to join to compute episodes {Episodes}.",
            round, workerWait.Timeout.TotalSeconds, Describe(state.Unfinished(episodes)));
        liveWorkers?.Invoke(0);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var joined = await workerWait.Wait(state.Dropped);
        if (joined.Count == 0) throw new RoundFailedException(Failure($" and none joined within {workerWait.Timeout.TotalSeconds:F0} s"));
        foreach (string worker in joined.Where(w => !state.Live.Contains(w)))
        {
            state.Live.Add(worker);
            state.Queues.TryAdd(worker, new Queue<long>());
        }
        logger.LogWarning("Round {Round}: {Count} worker(s) joined after {Seconds:F1} s without workers ({Workers}); the round goes on.",
            round, joined.Count, watch.Elapsed.TotalSeconds, string.Join(", ", joined));
        liveWorkers?.Invoke(LiveSlots(state));
        var stranded = state.Stranded.ToArray();
        state.Stranded.Clear();
        Deal(state, round, stranded);
    }

    /// <summary>
    /// Queues episodes on live workers, each to the least-loaded eligible one (round-robin on a fresh round); a retried
    /// episode avoids the workers it failed on, and their silos where it can.
    /// </summary>
    private static void Deal(State state, long round, IReadOnlyList<long> episodes)
    {
        foreach (long episode in episodes.Order())
        {
            var failedOn = state.Failures.TryGetValue(episode, out var f) ? f.Select(a => a.Worker).ToHashSet() : [];
            var failedSilos = failedOn.Select(SiloOf).ToHashSet();
            var candidates = state.Live.Where(w => !failedOn.Contains(w)).ToArray();
            if (candidates.Length == 0 && state.Live.Count == 0)
            {
                // No worker at all: the episode waits for one to join (WaitForWorkers).
                state.Stranded.Add(episode);
                continue;
            }
            if (candidates.Length == 0)
                throw new RoundFailedException(
                    $"round {round}: episode {episode} failed on {string.Join(", ", state.Failures[episode].Select(a => $"{a.Worker}: {a.Error}"))} and no other live worker can retry it.");
            var target = candidates
                .Select((w, order) => (Worker: w, Order: order))
                .MinBy(c => (failedSilos.Contains(SiloOf(c.Worker)) ? 1 : 0, state.Load(c.Worker), c.Order)).Worker;
            state.Queues[target].Enqueue(episode);
        }
    }

    private void Launch(State state, long round)
    {
        foreach (string worker in state.Live)
        {
            if (state.Busy(worker) || state.Queues[worker].Count == 0) continue;
            var queue = state.Queues[worker];
            var share = new long[Math.Min(episodesPerCall, queue.Count)];
            for (int i = 0; i < share.Length; i++) share[i] = queue.Dequeue();
            long sent = System.Diagnostics.Stopwatch.GetTimestamp(); // before the call: its synchronous part (θ's bytes) counts as the call's
            state.InFlight[Call(worker, share)] = (worker, share, sent);
        }
    }

    private async Task<WorkResult> Call(string worker, long[] share) =>
        await call(worker, share).WaitAsync(deadline(share.Length));

    private static string SiloOf(string worker) => WorkerKey.TryParseSilo(worker, out var silo) ? silo : worker;

    private static string Describe(IEnumerable<long> episodes) => $"[{string.Join(", ", episodes)}]";

    private sealed class State(IReadOnlyList<string> workers)
    {
        public List<string> Live { get; } = workers.ToList();
        public Dictionary<string, Queue<long>> Queues { get; } = workers.ToDictionary(w => w, _ => new Queue<long>());
        public Dictionary<Task<WorkResult>, (string Worker, long[] Share, long Sent)> InFlight { get; } = [];
        /// <summary>The latest accepted reply's timing.</summary>
        public LastReply? Last { get; set; }
        public Dictionary<long, EpisodeContribution> Results { get; } = [];
        public Dictionary<long, List<(string Worker, string Error)>> Failures { get; } = [];
        public HashSet<string> Silos { get; } = [];
        public List<(long[] Episodes, PooledBuffer Sum)> Shares { get; } = [];
        public long ShareBytes { get; set; }
        public List<string> WorkerErrors { get; } = [];
        /// <summary>Workers dropped in this round (dead, late, shutting down): a wait for new workers does not take them back.</summary>
        public HashSet<string> Dropped { get; } = [];
        /// <summary>Episodes with no live worker to queue on, until one joins.</summary>
        public List<long> Stranded { get; } = [];

        public bool Busy(string worker) => InFlight.Values.Any(v => v.Worker == worker);
        public int Load(string worker) => Queues[worker].Count + InFlight.Values.Where(v => v.Worker == worker).Sum(v => v.Share.Length);
        public IEnumerable<long> Unfinished(long[] episodes) => episodes.Where(i => !Results.ContainsKey(i));
    }
}
