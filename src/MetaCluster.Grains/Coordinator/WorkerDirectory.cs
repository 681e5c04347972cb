using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Grains.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// The worker slots of the live cluster: every active silo with worker=true contributes keys "&lt;silo&gt;/0..slots-1".
/// Slots are listed slot-major (slot 0 of every silo, then slot 1, …) so that a run capped at N workers spreads
/// over silos before it doubles up on one. With per-silo dispatch the targets are the worker silos' hubs
/// ("&lt;silo&gt;/hub"), one per silo, each standing for all of its slots.
/// </summary>
internal sealed class WorkerDirectory(IClusterMembershipService membership, ISiloMetadataCache metadata)
{
    public IReadOnlyList<string> LiveSlots(int maxWorkers, bool perSilo = false)
    {
        var silos = WorkerSilos();
        if (perSilo) return silos.Select(s => WorkerKey.Hub(s.Silo)).ToArray();
        int most = silos.Length == 0 ? 0 : silos.Max(s => s.Slots);
        var keys = new List<string>();
        for (int slot = 0; slot < most; slot++)
            foreach (var s in silos)
                if (slot < s.Slots) keys.Add(WorkerKey.Create(s.Silo, slot));
        return maxWorkers > 0 ? keys.Take(maxWorkers).ToArray() : keys;
    }

    /// <summary>How many slots a target stands for: a hub all of its silo's, a slot one.</summary>
    public int SlotsOf(string target)
    {
        if (WorkerKey.TryParse(target, out _, out _) || !WorkerKey.TryParseSilo(target, out string silo)) return 1;
        // Asked for every hub of every round: one scan of the membership per membership version, not one per call
        // (64 hubs made it 64² metadata lookups a round). A silo missing from the map is looked up afresh — its
        // metadata can arrive after the membership change that listed it.
        var version = membership.CurrentSnapshot.Version;
        if (_slotsBySilo is { } cached && cached.Version == version && cached.Slots.TryGetValue(silo, out int slots)) return slots;
        var fresh = WorkerSilos().ToDictionary(s => s.Silo, s => s.Slots, StringComparer.Ordinal);
        _slotsBySilo = new SlotCache(version, fresh); // one reference: a reader on another thread sees the old or the new
        return fresh.GetValueOrDefault(silo);
    }

    private sealed record SlotCache(MembershipVersion Version, Dictionary<string, int> Slots);
    private SlotCache? _slotsBySilo;

    private (string Silo, int Slots)[] WorkerSilos() => membership.CurrentSnapshot.Members.Values
        .Where(m => m.Status == SiloStatus.Active)
        .Select(m => (Silo: m.SiloAddress.ToParsableString(), Slots: SiloMetadataKeys.WorkerSlots(metadata.GetSiloMetadata(m.SiloAddress).Metadata)))
        .Where(s => s.Slots > 0)
        .OrderBy(s => s.Silo, StringComparer.Ordinal)
        .ToArray();

    /// <summary>
    /// Live worker slots, waiting up to <paramref name="timeout"/> for a first one (a round with no worker: right after
    /// startup silo metadata may still be on its way; after every worker was lost a new one has to join).
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForSlots(int maxWorkers, TimeSpan timeout, bool perSilo = false)
    {
        var workers = await WaitForSlots(maxWorkers, timeout, new HashSet<string>(), perSilo);
        return workers.Count > 0 ? workers
            : throw new RoundFailedException($"no worker silo (silo metadata {SiloMetadataKeys.Worker}=true) joined the cluster within {timeout.TotalSeconds:F0} s.");
    }

    /// <summary>Live worker slots other than <paramref name="excluded"/> as soon as there is one; none when <paramref name="timeout"/> passes first.</summary>
    public async Task<IReadOnlyList<string>> WaitForSlots(int maxWorkers, TimeSpan timeout, IReadOnlySet<string> excluded, bool perSilo = false)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var workers = LiveSlots(0, perSilo).Where(w => !excluded.Contains(w)).ToArray();
            if (workers.Length > 0) return maxWorkers > 0 ? workers.Take(maxWorkers).ToArray() : workers;
            if (waited.Elapsed > timeout) return [];
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }
}
