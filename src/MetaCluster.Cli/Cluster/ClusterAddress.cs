using System.Net;
using System.Net.Sockets;

namespace MetaCluster.Cli.Cluster;

/// <summary>
/// Where <c>--cluster</c> points: a Redis membership store (<c>redis://HOST:PORT[,option=value…]</c>, the
/// StackExchange.Redis configuration after the scheme) or a static list of silo gateways
/// (<c>HOST:PORT[,HOST:PORT…]</c>, e.g. <c>localhost:30000</c>).
/// </summary>
public sealed record ClusterAddress(string Text, string? RedisConfiguration, IReadOnlyList<IPEndPoint> Gateways)
{
    public const string RedisScheme = "redis://";
    public const string Default = "localhost:30000";

    public bool IsRedis => RedisConfiguration is not null;

    public static ClusterAddress Parse(string text)
    {
        text = text.Trim();
        if (text.Length == 0) throw new ArgumentException($"--cluster needs an address: {RedisScheme}HOST:PORT (Redis membership) or HOST:PORT[,HOST:PORT…] (silo gateways).");
        if (text.StartsWith(RedisScheme, StringComparison.OrdinalIgnoreCase))
        {
            string configuration = text[RedisScheme.Length..];
            if (configuration.Length == 0) throw new ArgumentException($"--cluster {text}: name the Redis server, e.g. {RedisScheme}localhost:6379.");
            return new ClusterAddress(text, configuration, []);
        }
        if (text.Contains("://", StringComparison.Ordinal))
            throw new ArgumentException($"--cluster {text}: only {RedisScheme} addresses (Redis membership) or HOST:PORT gateway lists are understood.");
        var gateways = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(ParseGateway).ToArray();
        return new ClusterAddress(text, null, gateways);
    }

    private static IPEndPoint ParseGateway(string entry)
    {
        int colon = entry.LastIndexOf(':');
        string host = colon > 0 ? entry[..colon].Trim('[', ']') : "";
        if (colon <= 0 || !int.TryParse(entry.AsSpan(colon + 1), out int port) || port is < 1 or > 65535)
            throw new ArgumentException($"--cluster: '{entry}' is not HOST:PORT (a silo gateway, e.g. localhost:30000); for Redis membership write {RedisScheme}HOST:PORT.");
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            throw new ArgumentException($"--cluster: cannot resolve host '{host}' ({e.Message}).");
        }
        // Silos bind IPv4 (localhost clustering binds 127.0.0.1), so prefer an IPv4 address.
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new ArgumentException($"--cluster: host '{host}' has no address.");
        return new IPEndPoint(chosen, port);
    }

    public override string ToString() => Text;
}
