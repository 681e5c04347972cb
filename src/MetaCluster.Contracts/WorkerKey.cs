namespace MetaCluster.Contracts;

/// <summary>
/// Worker grain keys: "&lt;silo&gt;/&lt;slot&gt;", the silo in Orleans' parsable form (ip:port@generation). A restarted silo
/// has a new generation, hence new keys: a slot's activation is never placed on a silo other than the one it names.
/// A silo's hub, which deals a share over that silo's slots, is "&lt;silo&gt;/hub".
/// </summary>
public static class WorkerKey
{
    public static string Create(string silo, int slot) => $"{silo}/{slot}";

    /// <summary>The key of a silo's hub (<see cref="ISiloHubGrain"/>): "&lt;silo&gt;/hub".</summary>
    public static string Hub(string silo) => $"{silo}/{HubName}";

    private const string HubName = "hub";

    /// <summary>The silo a slot's or a hub's key names.</summary>
    public static bool TryParseSilo(string key, out string silo)
    {
        if (TryParse(key, out silo, out _)) return true;
        int separator = key.LastIndexOf('/');
        silo = separator > 0 && key.AsSpan(separator + 1).SequenceEqual(HubName) ? key[..separator] : "";
        return silo.Length > 0;
    }

    public static bool TryParse(string key, out string silo, out int slot)
    {
        int separator = key.LastIndexOf('/');
        silo = separator > 0 ? key[..separator] : "";
        slot = -1;
        return separator > 0 && int.TryParse(key.AsSpan(separator + 1), out slot) && slot >= 0;
    }
}
