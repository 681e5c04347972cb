using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// One compute slot: turns (θ, episode indices) into per-episode contributions with Core's algorithm. The run (model,
/// algorithm) is built once per run from the config its coordinator hands out, and kept warm between rounds; the data
/// is loaded once per process (<see cref="WorkerDatasets"/>). Torch work runs synchronously inside
/// the slot's own <see cref="ComputeThread"/> — off the Orleans scheduler, always the same thread for libtorch, and
/// with no await inside a dispose scope (scopes are thread-static).
/// </summary>
[WorkerSlotPlacement, WorkerSiloPlacementFilter]
public sealed class TaskWorkerGrain(ILocalSiloDetails silo, IOptions<MetaClusterSiloOptions> options, IFaultInjector<EpisodeWork> faults,
    IContributionSource source, WorkerDatasets datasets, ShareSumPool sums, IHostApplicationLifetime lifetime, MetaClusterMetrics metrics, ILogger<TaskWorkerGrain> logger)
    : WorkerSlotGrain<(string RunId, string ConfigVersion), TaskWorkerGrain.CachedRun>("metacluster-worker"), ITaskWorkerGrain
{
    /// <summary>The run built for one (run id, config version) — the slot's key for it — kept warm between rounds.</summary>
    public sealed record CachedRun(string RunId, string ConfigVersion, TrainingRun Run, EpisodeStream Episodes);

    public async Task<WorkResult> Contribute(WorkRequest request)
    {
        var watch = Stopwatch.StartNew();
        string worker = this.GetPrimaryKeyString();
        // A silo on its way down (scale-in, rolling update) gives its share back at once rather than start work the
        // shutdown may cut off: the coordinator deals it to the others, and θ does not depend on who computes what.
        if (lifetime.ApplicationStopping.IsCancellationRequested)
            return new WorkResult { Worker = worker, Silo = silo.SiloAddress.ToParsableString(), Contributions = [], Failures = [], HandedBack = request.Episodes };
        var cached = await GetRun(request);
        var computing = Stopwatch.StartNew();
        var (computed, failures, summed) = await Compute.Run<(List<Core.Algorithms.Contribution>, List<EpisodeFailure>, Summed)>(() =>
        {
            // θ straight from the message's bytes into tensors: the one conversion on this side of the hop.
            var theta = Core.Models.ParameterSet.OverBytes(cached.Run.Algorithm.Layout, request.Theta);
            var (healthy, failed) = Admit(request, worker);
            // Pre-summing: one exact sum for the share instead of a vector per episode — the same bits at the coordinator.
            // Each contribution goes into the sum as it is computed — the silo hub's own, lent with the request, or one
            // for this share — so no vector is kept per episode.
            if (request.PreSum && request.ShareSum is { } hubSum)
            {
                var (added, refused) = SumIntoHub(cached, theta, healthy, request, hubSum);
                return (added, [.. failed, .. refused], new Summed(null, InHubSum: true));
            }
            if (request.PreSum && SumShare(cached, theta, healthy, request) is { } wire) return (wire.Metrics, failed, new Summed(wire.Wire, InHubSum: false));
            var (contributions, failedToo) = ComputeShare(cached, theta, healthy, request);
            return (contributions, [.. failed, .. failedToo], new Summed(null, InHubSum: false));
        });
        metrics.EpisodesComputed(cached.Run.Config.Algorithm, computed.Count, computing.Elapsed.TotalSeconds);
        return new WorkResult
        {
            Worker = worker, Silo = silo.SiloAddress.ToParsableString(),
            Contributions = computed.Select(c => ToMessage(c, withValues: summed is { Wire: null, InHubSum: false })).ToArray(), Failures = failures.ToArray(),
            PartialSum = summed.Wire ?? default, Seconds = watch.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Where a share's contributions went: a partial sum in wire form, the silo hub's sum, or (neither) vectors.</summary>
    private sealed record Summed(PooledBuffer? Wire, bool InHubSum);

    public Task<WorkerInfo> Describe() => Task.FromResult(new WorkerInfo
    {
        Worker = this.GetPrimaryKeyString(), Silo = silo.SiloAddress.ToParsableString(), SiloName = silo.Name, Device = options.Value.Device.Name,
    });

    /// <summary>The run this request belongs to: built here once per run (and config version), its config fetched from the coordinator.</summary>
    private async Task<CachedRun> GetRun(WorkRequest request)
    {
        if (Built((request.RunId, request.ConfigVersion)) is { } c) return c;
        Forget(); // let the previous run go before building the next
        string json = await GrainFactory.GetGrain<ICoordinatorGrain>(request.RunId).GetConfigJson();
        if (ConfigJson.Version(json) != request.ConfigVersion)
            throw new InvalidOperationException($"run '{request.RunId}' asks for config version {request.ConfigVersion}, but its coordinator now holds version {ConfigJson.Version(json)}.");
        var config = options.Value.Localize(ConfigJson.Read(json));
        return await Build((request.RunId, request.ConfigVersion), () =>
        {
            var run = RunFactory.WithData(RunFactory.CreateBlueprint(config, options.Value.Device), datasets.Get(config));
            return new CachedRun(request.RunId, request.ConfigVersion, run, run.TrainingStream());
        });
    }

    /// <summary>The episodes of the share the fault injector lets through, and a failure for each it stops.</summary>
    private (List<long> Healthy, List<EpisodeFailure> Failures) Admit(WorkRequest request, string worker)
    {
        var failures = new List<EpisodeFailure>();
        var healthy = new List<long>(request.Episodes.Length);
        foreach (long episode in request.Episodes)
        {
            try
            {
                faults.Before(new EpisodeWork(request.RunId, request.Round, episode, worker, silo.Name));
                healthy.Add(episode);
            }
            catch (Exception e)
            {
                failures.Add(Failure(episode, e));
            }
        }
        return (healthy, failures);
    }

    /// <summary>A pre-summed share as bytes for the wire, with each episode's metrics.</summary>
    private sealed record SummedShare(List<Core.Algorithms.Contribution> Metrics, PooledBuffer Wire);

    /// <summary>
    /// The share summed as it is computed, with each episode's metrics (no values). Null if anything went wrong — a
    /// failing episode, or a non-finite or huge contribution — and then the caller computes the share episode by
    /// episode with vectors, so a failure stays with its episode and an overflow is named at the coordinator. The
    /// fallback is logged with its cause and counted (metacluster.presum_fallbacks): it costs a second pass over the share.
    /// The sum is lent by the silo's pool (a fresh 8-bytes-a-parameter array per call was a large-object allocation every
    /// round, and the blocking GCs it set off ran on this thread), written out and given back.
    /// </summary>
    private SummedShare? SumShare(CachedRun cached, Core.Models.ParameterSet theta, List<long> healthy, WorkRequest request)
    {
        var lease = sums.Rent(cached.Run.Algorithm.Layout.TotalCount);
        try
        {
            var (share, episodes) = PartialSum.Collect(lease.Sum,
                sink => source.Contribute(cached.Run, theta, healthy, cached.Episodes.Sample, sink));
            var wire = new PooledBuffer();
            share.Sum.WriteTo(ref wire);
            return new SummedShare(episodes.Select(e => new Core.Algorithms.Contribution(e.Episode, [], e.Metrics)).ToList(), wire);
        }
        catch (Exception e)
        {
            LogFallback(cached, healthy, request, e);
            return null;
        }
        finally
        {
            lease.Release();
        }
    }

    /// <summary>
    /// The share added episode by episode into the silo hub's sum (<see cref="WorkRequest.ShareSum"/>): what the sum takes
    /// is in, whatever happens after. If the pass over the share throws — a failing episode, or a vector the sum refuses
    /// (nothing of it added) — the episodes not yet in are computed one at a time, so a failure stays with its episode;
    /// logged and counted like <see cref="SumShare"/>'s fallback. An episode the hub no longer takes (it has answered)
    /// is a failure.
    /// </summary>
    private (List<Core.Algorithms.Contribution> Added, List<EpisodeFailure> Failures) SumIntoHub(
        CachedRun cached, Core.Models.ParameterSet theta, List<long> healthy, WorkRequest request, IHubShareSum hubSum)
    {
        var added = new List<Core.Algorithms.Contribution>(healthy.Count);
        var failures = new List<EpisodeFailure>();
        void Add(long episode, ReadOnlySpan<float> values, Core.Algorithms.EpisodeMetrics m)
        {
            var c = new Core.Algorithms.Contribution(episode, [], m);
            if (hubSum.TryAdd(ToMessage(c, withValues: false), values)) added.Add(c);
            else failures.Add(new EpisodeFailure { Episode = episode, Error = "computed after the silo hub had answered" });
        }
        try
        {
            source.Contribute(cached.Run, theta, healthy, cached.Episodes.Sample, Add);
        }
        catch (Exception e)
        {
            LogFallback(cached, healthy, request, e);
            // The episodes not settled yet: those the pass did not reach, and the one whose vector the sum refused.
            var settled = added.Select(a => a.EpisodeIndex).Concat(failures.Select(f => f.Episode)).ToHashSet();
            foreach (long episode in healthy.Where(episode => !settled.Contains(episode)))
            {
                try
                {
                    var c = source.Contribute(cached.Run, theta, [episode], cached.Episodes.Sample)[0];
                    Add(episode, c.Values, c.Metrics);
                }
                catch (Exception single)
                {
                    failures.Add(Failure(episode, single));
                }
            }
        }
        return (added, failures);
    }

    private void LogFallback(CachedRun cached, List<long> healthy, WorkRequest request, Exception e)
    {
        logger.LogWarning(e, "Run {RunId} round {Round}: summing the share of episodes [{Episodes}] on {Worker} failed ({Error}); computing it episode by episode.",
            request.RunId, request.Round, string.Join(", ", healthy), this.GetPrimaryKeyString(), $"{e.GetType().Name}: {e.Message}");
        metrics.PreSumFallback(request.RunId, cached.Run.Config.Algorithm);
    }

    /// <summary>
    /// The whole share in one call to the algorithm — task-batched where the model allows it, and each episode's bits
    /// do not depend on how the round was split. If that call throws, the episodes are redone one at a time (logged),
    /// so an episode that fails (a corrupt image, say) fails alone and the coordinator can retry just that one.
    /// </summary>
    private (List<Core.Algorithms.Contribution>, List<EpisodeFailure>) ComputeShare(CachedRun cached, Core.Models.ParameterSet theta, List<long> healthy, WorkRequest request)
    {
        var failures = new List<EpisodeFailure>();
        var contributions = new List<Core.Algorithms.Contribution>(healthy.Count);
        try
        {
            contributions.AddRange(source.Contribute(cached.Run, theta, healthy, cached.Episodes.Sample));
        }
        catch (Exception whole)
        {
            logger.LogWarning(whole, "Run {RunId} round {Round}: computing episodes [{Episodes}] on {Worker} in one call failed ({Error}); computing them one at a time.",
                request.RunId, request.Round, string.Join(", ", healthy), this.GetPrimaryKeyString(), $"{whole.GetType().Name}: {whole.Message}");
            foreach (long episode in healthy)
            {
                try
                {
                    contributions.Add(source.Contribute(cached.Run, theta, [episode], cached.Episodes.Sample)[0]);
                }
                catch (Exception e)
                {
                    failures.Add(Failure(episode, e));
                }
            }
        }
        return (contributions, failures);
    }

    private static EpisodeContribution ToMessage(Core.Algorithms.Contribution c, bool withValues) => new()
    {
        Episode = c.EpisodeIndex, Values = withValues ? FloatBytes.ToBytes(c.Values) : [],
        PreLoss = c.Metrics.PreLoss, PostLoss = c.Metrics.PostLoss, PreAccuracy = c.Metrics.PreAccuracy, PostAccuracy = c.Metrics.PostAccuracy,
    };

    private static EpisodeFailure Failure(long episode, Exception e) => new() { Episode = episode, Error = $"{e.GetType().Name}: {e.Message}" };
}
