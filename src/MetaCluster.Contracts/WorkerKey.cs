namespace MetaCluster.Contracts;

/// <summary>
/// Worker grain keys: "&lt;silo&gt;/&lt;slot&gt;", the silo in Orleans' parsable form (ip:port@generation). A restarted silo
/// has a new generation, hence new keys: a slot's activation is never placed on a silo other than the one it names.
/// </summary>
public static class WorkerKey
{
    public static string Create(string silo, int slot) => $"{silo}/{slot}";

    public static bool TryParse(string key, out string silo, out int slot)
    {
        int separator = key.LastIndexOf('/');
        silo = separator > 0 ? key[..separator] : "";
        slot = -1;
        return separator > 0 && int.TryParse(key.AsSpan(separator + 1), out slot) && slot >= 0;
    }
}
