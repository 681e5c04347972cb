namespace MetaCluster.Grains.Worker;

/// <summary>
/// A seam for fault tests: a worker slot calls it on its compute thread before each unit of work (an
/// <see cref="EpisodeWork"/>, a <see cref="Federated.ClientWork"/>); throwing fails that unit — the episode fails on
/// this worker, the client counts as failed in the round (as a real client that errors) — and blocking makes the slot
/// slow. Production silos use <see cref="NoFaults{TWork}"/>.
/// </summary>
public interface IFaultInjector<in TWork>
{
    void Before(TWork work);
}

public sealed class NoFaults<TWork> : IFaultInjector<TWork>
{
    public void Before(TWork work) { }
}
