namespace MetaCluster.Contracts;

/// <summary>
/// One compute slot on a worker silo. Keyed "&lt;silo address&gt;/&lt;slot&gt;" (see <see cref="WorkerKey"/>): the key names
/// the silo, so the placement director puts the activation exactly there and a slot never migrates.
/// </summary>
[Alias("mc.ITaskWorkerGrain")]
public interface ITaskWorkerGrain : IGrainWithStringKey
{
    /// <summary>
    /// One contribution per episode of the share. The coordinator enforces a deadline sized to the share; this
    /// timeout only lifts Orleans' 30 s default so long shares (Conv4, many episodes) are not cut off by it.
    /// </summary>
    [ResponseTimeout("01:00:00")]
    [Alias("Contribute")]
    Task<WorkResult> Contribute(WorkRequest request);

    /// <summary>Where this slot lives; used by tests and diagnostics.</summary>
    [Alias("Describe")]
    Task<WorkerInfo> Describe();
}
