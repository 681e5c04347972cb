namespace MetaCluster.Grains.Hosting;

/// <summary>
/// Silo metadata (Orleans:Metadata:*) the placement filters and the coordinator read. Set by AddMetaCluster from
/// <see cref="MetaClusterSiloOptions"/>; values are strings, "true"/"false" for flags.
/// </summary>
public static class SiloMetadataKeys
{
    public const string Worker = "worker";
    public const string Device = "device";
    public const string Slots = "slots";
    public const string Coordinator = "coordinator";

    public static bool IsTrue(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var value) && bool.TryParse(value, out bool flag) && flag;

    /// <summary>The slot count a worker silo advertises; 0 for a silo that is not a worker or has not been seen yet.</summary>
    public static int WorkerSlots(IReadOnlyDictionary<string, string> metadata) =>
        IsTrue(metadata, Worker) && metadata.TryGetValue(Slots, out var value) && int.TryParse(value, out int slots) && slots > 0 ? slots : 0;
}
