using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StackExchange.Redis;

namespace MetaCluster.Server;

/// <summary>
/// The server's own look at Redis before the silo starts: wrong credentials or an unreachable Redis become one
/// <see cref="StartupRefusal"/> instead of a crash deep inside the silo's start, and the membership table is read
/// for a live silo that already has this server's address (starting would evict it).
/// </summary>
public static class RedisPreflight
{
    /// <summary>
    /// Connects to <paramref name="configuration"/>, retrying a Redis that does not answer (it may be starting too)
    /// for up to <paramref name="timeout"/>; wrong credentials end it at once.
    /// </summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(string configuration, TimeSpan timeout)
    {
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException e)
        {
            throw new StartupRefusal($"--redis is not a StackExchange.Redis configuration: {e.Message}");
        }
        if (options.EndPoints.Count == 0) throw new StartupRefusal("--redis names no endpoint: pass HOST:PORT[,password=…].");
        string where = string.Join(", ", options.EndPoints.Select(Describe));
        // Reachability first, with plain TCP: StackExchange.Redis takes seconds to report a refused connection and says
        // only "UnableToConnect"; this says why, and a Redis that is still starting gets the whole timeout.
        var watch = Stopwatch.StartNew();
        while (await UnreachableAsync(options.EndPoints, timeout - watch.Elapsed) is { } why)
        {
            if (watch.Elapsed + TimeSpan.FromMilliseconds(500) >= timeout)
                throw new StartupRefusal($"Redis at {where} (--redis) did not answer within {timeout.TotalSeconds:0.#} s: {why}. Check the address and that Redis is running.");
            await Task.Delay(500);
        }
        // One attempt: the client retries a refused password until ConnectTimeout (seconds) before it says so.
        (options.AbortOnConnectFail, options.ConnectRetry) = (true, 1);
        options.ConnectTimeout = (int)Math.Clamp((timeout - watch.Elapsed).TotalMilliseconds, 1000, 5000);
        ConnectionMultiplexer? connection = null;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(options);
            // A connection without credentials to a Redis that wants them may succeed; its first command does not.
            await connection.GetDatabase().PingAsync();
            return connection;
        }
        catch (Exception e) when (e is RedisException && (e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure } || IsAuthError(e)))
        {
            connection?.Dispose();
            throw new StartupRefusal($"Redis at {where} refused this server's credentials (--redis …,password=…): {AuthReason(e)}");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            connection?.Dispose();
            string why = e is RedisConnectionException c ? $"{c.FailureType}{(e.InnerException is { } inner ? $", {FirstLine(inner)}" : "")}" : FirstLine(e);
            throw new StartupRefusal($"Redis at {where} (--redis) accepts connections but the Redis handshake failed ({why}); check the port and the ssl= setting.");
        }
    }

    /// <summary>Null when a TCP connection to one of the endpoints opens within the time left (at most 2 s), else why not.</summary>
    private static async Task<string?> UnreachableAsync(EndPointCollection endpoints, TimeSpan left)
    {
        string why = "no answer";
        var limit = TimeSpan.FromMilliseconds(Math.Clamp(left.TotalMilliseconds, 200, 2000));
        foreach (var endpoint in endpoints)
        {
            using var client = new TcpClient();
            using var cancel = new CancellationTokenSource(limit);
            try
            {
                if (endpoint is DnsEndPoint dns) await client.ConnectAsync(dns.Host, dns.Port, cancel.Token);
                else if (endpoint is IPEndPoint ip) await client.ConnectAsync(ip, cancel.Token);
                else return null; // a kind of endpoint this check does not know: let the client try
                return null;
            }
            catch (SocketException e)
            {
                why = e.SocketErrorCode == SocketError.HostNotFound ? $"host {Describe(endpoint)} not found" : e.Message.ToLowerInvariant();
            }
            catch (OperationCanceledException)
            {
                why = $"no answer in {limit.TotalSeconds:0.#} s";
            }
        }
        return why;
    }

    /// <summary>
    /// Refuses when the membership table already lists a silo at this server's advertised endpoint as active and that
    /// endpoint answers: a second machine given the same --advertised-ip, which the local port probe cannot see.
    /// A listed silo that does not answer is the stale entry of a process that died there; Orleans retires it.
    /// </summary>
    public static async Task EnsureEndpointNotLiveAsync(IConnectionMultiplexer redis, ServerOptions server)
    {
        var endpoint = new IPEndPoint(server.AdvertisedAddress, server.SiloPort);
        var rows = await redis.GetDatabase().HashGetAllAsync(MembershipKey(server.ServiceId, server.ClusterId));
        foreach (var row in rows)
        {
            if (MembershipRow.Parse(row.Value) is not { Status: MembershipRow.Active } silo || !silo.Endpoint.Equals(endpoint)) continue;
            if (!await AnswersAsync(endpoint, TimeSpan.FromSeconds(2))) continue;
            throw new StartupRefusal($"{endpoint} (--advertised-ip, --silo-port) is the address of a live silo ({silo.Name ?? "unnamed"}) of cluster " +
                $"'{server.ClusterId}'; starting would evict it. Give this server its own --advertised-ip or --silo-port.");
        }
    }

    /// <summary>Orleans.Clustering.Redis keeps one hash per cluster: field = silo address, value = the JSON entry.</summary>
    public static RedisKey MembershipKey(string serviceId, string clusterId) => $"{serviceId}/members/{clusterId}";

    /// <summary>The membership tables of <paramref name="serviceId"/> in Redis, by cluster id.</summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<MembershipRow>>> ClustersAsync(IConnectionMultiplexer redis, string serviceId)
    {
        string prefix = $"{serviceId}/members/";
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
            await foreach (var key in node.KeysAsync(pattern: GlobEscape(prefix) + "*"))
                keys.Add(key.ToString());
        var clusters = new SortedDictionary<string, IReadOnlyList<MembershipRow>>(StringComparer.Ordinal);
        var db = redis.GetDatabase();
        foreach (string key in keys)
        {
            if (await db.KeyTypeAsync(key) != RedisType.Hash) continue;
            var rows = await db.HashGetAllAsync(key);
            clusters[key[prefix.Length..]] = rows.Select(r => MembershipRow.Parse(r.Value)).OfType<MembershipRow>().ToList();
        }
        return clusters;
    }

    private static bool IsAuthError(Exception e) =>
        e.Message.Contains("WRONGPASS", StringComparison.Ordinal) || e.Message.Contains("NOAUTH", StringComparison.Ordinal)
        || e.Message.Contains("invalid password", StringComparison.OrdinalIgnoreCase)
        || (e.InnerException is { } inner && IsAuthError(inner));

    private static string AuthReason(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            foreach (string word in new[] { "WRONGPASS", "NOAUTH" })
                if (x.Message.IndexOf(word, StringComparison.Ordinal) is int at and >= 0)
                    return FirstLine(x.Message[at..]).TrimEnd('.') + ".";
        return "authentication failed.";
    }

    private static string FirstLine(Exception e) => FirstLine(e.Message);
    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private static string Describe(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString() ?? "?",
    };

    private static string GlobEscape(string text) =>
        string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? $"\\{c}" : c.ToString()));

    private static async Task<bool> AnswersAsync(IPEndPoint endpoint, TimeSpan timeout)
    {
        using var client = new TcpClient(endpoint.AddressFamily);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await client.ConnectAsync(endpoint, cancel.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>What the server needs from one Orleans membership entry (JSON written by Orleans.Clustering.Redis).</summary>
public sealed record MembershipRow(IPEndPoint Endpoint, int Status, string? Name, DateTimeOffset? IAmAliveTime)
{
    /// <summary>Orleans' SiloStatus.Active.</summary>
    public const int Active = 3;

    /// <summary>The entry, or null for the table's version row or anything not shaped like an entry.</summary>
    public static MembershipRow? Parse(RedisValue value)
    {
        if (!value.HasValue) return null;
        try
        {
            using var json = JsonDocument.Parse(value.ToString());
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("SiloAddress", out var address) || !address.TryGetProperty("SiloAddress", out var text)
                || !root.TryGetProperty("Status", out var status) || !status.TryGetInt32(out int code))
                return null;
            // "127.0.0.1:11111@155074509": endpoint, then the generation.
            string s = text.GetString() ?? "";
            int at = s.LastIndexOf('@');
            if (!IPEndPoint.TryParse(at < 0 ? s : s[..at], out var endpoint)) return null;
            string? name = root.TryGetProperty("SiloName", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            DateTimeOffset? alive = root.TryGetProperty("IAmAliveTime", out var t) && t.TryGetDateTimeOffset(out var time) ? time : null;
            return new MembershipRow(endpoint, code, name, alive);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
