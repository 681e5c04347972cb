namespace MetaCluster.Gateway;

/// <summary>
/// Makes a deployment's credentials: a token file per client (readable by its owner only) and the server's clients
/// file of token hashes. The tokens go to the clients; the clients file goes to the server.
/// </summary>
public static class CredentialsWriter
{
    public const string ClientsFileName = "clients.txt";

    /// <summary>Writes DIR/ID.token (mode 0600) for each client and DIR/clients.txt; returns the clients file's path. Never overwrites.</summary>
    public static string Write(IReadOnlyList<string> clientIds, string directory)
    {
        if (clientIds.Count == 0) throw new ArgumentException("--clients needs at least one client id (a,b,c).");
        foreach (string id in clientIds)
            if (!ClientCredentials.IsValidClientId(id))
                throw new ArgumentException($"client id '{id}' must be 1 to 64 letters, digits, '.', '_' or '-'.");
        var twice = clientIds.GroupBy(id => id).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"client id '{twice.Key}' is listed twice in --clients.");
        Directory.CreateDirectory(directory);
        string clientsFile = Path.Combine(directory, ClientsFileName);
        foreach (string path in clientIds.Select(id => TokenPath(directory, id)).Append(clientsFile))
            if (File.Exists(path)) throw new ArgumentException($"{path} already exists; choose another --out directory or remove the old credentials first.");

        var lines = new List<string> { "# client-id sha256-hex-of-token (metacluster federated credentials); give each client its own .token file" };
        foreach (string id in clientIds)
        {
            string token = ClientCredentials.NewToken();
            WritePrivate(TokenPath(directory, id), token + "\n");
            lines.Add($"{id} {ClientCredentials.HashToken(token)}");
        }
        File.WriteAllLines(clientsFile, lines);
        return clientsFile;
    }

    public static string TokenPath(string directory, string clientId) => Path.Combine(directory, clientId + ".token");

    /// <summary>Created with mode 0600 (never readable by others, not even for a moment); CreateNew so an existing file is never replaced.</summary>
    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
