namespace MetaCluster.Contracts;

/// <summary>
/// A worker silo's hub, keyed "&lt;silo&gt;/hub" (<see cref="WorkerKey.Hub"/>) and placed on that silo: with per-silo
/// dispatch the coordinator sends θ and a share of the round to each silo once, the hub deals the share over the
/// silo's slots (local calls: θ is not copied) and answers with the exact sum of what they computed. Per round the
/// wire carries θ and one partial sum per silo instead of per slot — the first level of an aggregation tree. With hub
/// groups (<see cref="StartRunRequest.HubGroup"/>) a hub leading a group also deals part of the share to the group's
/// other hubs (<see cref="WorkRequest.Members"/>) and adds their sums into its own: the second level.
/// </summary>
[Alias("mc.ISiloHubGrain")]
public interface ISiloHubGrain : IGrainWithStringKey
{
    /// <summary>
    /// The share summed over the silo's slots (with <see cref="WorkRequest.PreSum"/>), or their per-episode vectors
    /// passed through (without). An episode a slot or member hub failed, or whose call to it failed, comes back as a
    /// failure: the coordinator retries it on another silo (another group's).
    /// </summary>
    [ResponseTimeout("01:00:00")]
    [Alias("Contribute")]
    Task<WorkResult> Contribute(WorkRequest request);
}
