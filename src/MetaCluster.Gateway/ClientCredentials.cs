using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MetaCluster.Gateway;

/// <summary>
/// Who may talk to the gateway: each client's id and the SHA-256 of its token — never the token itself, so the clients
/// file can be read by the server's operators without giving anyone a client's identity. A client proves itself with
/// <c>authorization: Bearer TOKEN</c>; the token's hash is compared with every stored one in constant time.
/// </summary>
/// <remarks>
/// The clients file is either lines of <c>client-id sha256-hex</c> (blank lines and <c># comments</c> allowed) or JSON,
/// <c>{"clients": [{"id": "…", "sha256": "…"}]}</c>. Tokens are 32 random bytes, base64url (<see cref="NewToken"/>).
/// </remarks>
public sealed partial class ClientCredentials
{
    private readonly (string Id, byte[] Hash)[] _clients;

    private ClientCredentials((string Id, byte[] Hash)[] clients) => _clients = clients;

    public IReadOnlyList<string> ClientIds => _clients.Select(c => c.Id).ToArray();

    /// <summary>Reads a clients file; a missing, unreadable or malformed one is an <see cref="InvalidDataException"/> naming the file and the line.</summary>
    public static ClientCredentials Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot read the clients file {path}: {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static ClientCredentials Parse(string text, string source)
    {
        var entries = text.TrimStart().StartsWith('{') ? ParseJson(text, source) : ParseLines(text, source);
        if (entries.Count == 0)
            throw new InvalidDataException($"the clients file {source} lists no clients; write one 'client-id sha256-hex-of-token' per line (metacluster federated credentials makes it).");
        var seen = new Dictionary<string, string>();
        var hashes = new Dictionary<string, string>();
        foreach (var (id, hash, where) in entries)
        {
            if (!IsValidClientId(id))
                throw new InvalidDataException($"the clients file {source}, {where}: client id '{id}' must be 1 to 64 letters, digits, '.', '_' or '-'.");
            if (!HexSha256().IsMatch(hash))
                throw new InvalidDataException($"the clients file {source}, {where}: '{Shorten(hash)}' for client '{id}' is not 64 hex digits; the file holds the SHA-256 of each token, never the token itself.");
            if (!seen.TryAdd(id, where))
                throw new InvalidDataException($"the clients file {source}: client id '{id}' appears twice ({seen[id]} and {where}).");
            if (!hashes.TryAdd(hash.ToLowerInvariant(), id))
                throw new InvalidDataException($"the clients file {source}: clients '{hashes[hash.ToLowerInvariant()]}' and '{id}' have the same token hash; give each client its own token.");
        }
        return new ClientCredentials(entries.Select(e => (e.Id, Convert.FromHexString(e.Hash))).ToArray());
    }

    /// <summary>The id of the client whose token this is, or null. Every stored hash is compared, equal or not, in constant time.</summary>
    public string? Authenticate(string token)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        string? match = null;
        foreach (var (id, stored) in _clients)
            if (CryptographicOperations.FixedTimeEquals(hash, stored)) match = id;
        return match;
    }

    /// <summary>The SHA-256 of a token as the clients file holds it: 64 lower-case hex digits.</summary>
    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new token: 32 random bytes, base64url (43 characters, no padding).</summary>
    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static bool IsValidClientId(string id) => ClientId().IsMatch(id);

    private static List<(string Id, string Hash, string Where)> ParseLines(string text, string source)
    {
        var entries = new List<(string, string, string)>();
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new InvalidDataException($"the clients file {source}, line {i + 1}: expected 'client-id sha256-hex-of-token', got {parts.Length} field(s).");
            entries.Add((parts[0], parts[1], $"line {i + 1}"));
        }
        return entries;
    }

    private static List<(string Id, string Hash, string Where)> ParseJson(string text, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (!document.RootElement.TryGetProperty("clients", out var clients) || clients.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"the clients file {source} is JSON without a \"clients\" array; expected {{\"clients\": [{{\"id\": \"…\", \"sha256\": \"…\"}}]}}.");
            var entries = new List<(string, string, string)>();
            int index = 0;
            foreach (var client in clients.EnumerateArray())
            {
                string where = $"clients[{index++}]";
                if (client.ValueKind != JsonValueKind.Object
                    || !client.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                    || !client.TryGetProperty("sha256", out var hash) || hash.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"the clients file {source}, {where}: expected {{\"id\": \"…\", \"sha256\": \"…\"}} with string values.");
                entries.Add((id.GetString()!, hash.GetString()!, where));
            }
            return entries;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the clients file {source} is not valid JSON: {e.Message}", e);
        }
    }

    private static string Shorten(string s) => s.Length <= 12 ? s : s[..6] + "…";

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ClientId();

    [GeneratedRegex("^[0-9A-Fa-f]{64}$")]
    private static partial Regex HexSha256();
}
