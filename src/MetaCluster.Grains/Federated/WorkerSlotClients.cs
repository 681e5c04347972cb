using MetaCluster.Contracts;
using MetaCluster.Core.Federated;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Grains.Federated;

/// <summary>
/// Simulated clients on the cluster's worker slots: a round's sampled clients are dealt round-robin over the live
/// slots (<see cref="IWorkerDirectoryGrain"/>), each slot computing its share with the same client trainer as the
/// in-process simulation (<see cref="FederatedWorkerGrain"/>). Which slot computes which client never changes a bit:
/// each update depends on (θ, seed, round, client id) only, and the trainer sums them exactly. A slot whose call fails
/// (its silo died, say) has all its clients counted failed; the round's minimum-completion rule decides the rest.
/// </summary>
public sealed class WorkerSlotClients : IClientUpdateProvider
{
    /// <summary>
    /// Update bytes one call may bring back: well inside Orleans' 100 MiB message limit, so a wide round of Conv4
    /// clients (450 KB an update) is split over several calls to a slot instead of failing to serialize.
    /// </summary>
    public const long MaxUpdateBytesPerCall = 32L << 20;

    /// <summary>How long a round waits for a first worker slot (right after startup silo metadata may be on its way).</summary>
    public static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(20);

    private readonly IGrainFactory _grains;
    private readonly string _runId, _configJson, _version;
    private readonly int _maxWorkers;

    /// <param name="maxWorkers">Use at most this many slots (0 = all live ones).</param>
    public WorkerSlotClients(IGrainFactory grains, FederatedConfig config, string runId, int maxWorkers = 0)
    {
        (_grains, _runId, _maxWorkers) = (grains, runId, maxWorkers);
        _configJson = config.ToJson();
        _version = ConfigJson.Version(_configJson);
    }

    /// <summary>The slots the last round used.</summary>
    public IReadOnlyList<string> Slots { get; private set; } = [];

    public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var slots = await _grains.GetGrain<IWorkerDirectoryGrain>(0).Slots(_maxWorkers, SlotWait);
        if (slots.Length == 0)
            throw new InvalidOperationException($"no worker slot joined the cluster within {SlotWait.TotalSeconds:F0} s; start worker silos or use --in-process.");
        Slots = slots;
        byte[] theta = FloatBytes.ToBytes(work.Theta.Values);
        int perCall = (int)Math.Clamp(MaxUpdateBytesPerCall / Math.Max(1L, theta.Length), 1, int.MaxValue);
        var calls = Deal(work.Participants, slots.Length, perCall)
            .Select(share => Call(slots[share.Slot], share.Clients, work, theta)).ToArray();
        var results = await Task.WhenAll(calls);
        return new FederatedRoundOutcome(results.SelectMany(r => r.Updates).ToArray(), results.SelectMany(r => r.Dropped).ToArray());
    }

    /// <summary>Client i to slot i mod <paramref name="slots"/>; each slot's clients in calls of at most <paramref name="perCall"/>.</summary>
    public static IReadOnlyList<(int Slot, string[] Clients)> Deal(IReadOnlyList<string> clients, int slots, int perCall)
    {
        if (slots < 1 || perCall < 1) throw new ArgumentException($"dealing needs at least one slot and one client a call (got {slots}, {perCall}).");
        var shares = new List<(int, string[])>();
        for (int slot = 0; slot < slots; slot++)
        {
            var mine = clients.Where((_, i) => i % slots == slot).ToArray();
            shares.AddRange(mine.Chunk(perCall).Select(chunk => (slot, chunk)));
        }
        return shares;
    }

    private async Task<FederatedRoundOutcome> Call(string slot, string[] clients, FederatedRoundWork work, byte[] theta)
    {
        var grain = _grains.GetGrain<IFederatedWorkerGrain>(slot);
        FederatedWorkRequest Request(string? json) => new()
        {
            RunId = _runId, ConfigVersion = _version, ConfigJson = json, Round = work.Round, Attempt = work.Attempt, Theta = theta, Clients = clients,
        };
        try
        {
            var result = await grain.ComputeClients(Request(null));
            // A slot meets the config once (or again after its activation was collected): a second call carries it.
            if (result.NeedsConfig) result = await grain.ComputeClients(Request(_configJson));
            return new FederatedRoundOutcome(result.Updates.Select(FederatedMessages.ToUpdate).ToArray(), result.Dropped.Select(FederatedMessages.ToDrop).ToArray());
        }
        catch (Exception e)
        {
            string why = $"worker slot {slot}: {e.GetType().Name}: {e.Message}";
            return new FederatedRoundOutcome([], clients.Select(id => new DroppedClient(id, DropReason.Failed, why)).ToArray());
        }
    }
}
