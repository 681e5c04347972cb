namespace MetaCluster.Gateway.Tests;

/// <summary>The clients file: token hashes only, both formats, and errors that name the file, the line and what to do.</summary>
public sealed class ClientCredentialsTests
{
    private static readonly string TokenA = ClientCredentials.NewToken(), TokenB = ClientCredentials.NewToken();

    [Fact]
    public void Lines_and_JSON_name_the_same_clients_and_authenticate_by_token_hash()
    {
        string lines = $"# deployment 1\n\na {ClientCredentials.HashToken(TokenA)}\n  b\t{ClientCredentials.HashToken(TokenB).ToUpperInvariant()}  \n";
        string json = $$"""{"clients": [{"id": "a", "sha256": "{{ClientCredentials.HashToken(TokenA)}}"}, {"id": "b", "sha256": "{{ClientCredentials.HashToken(TokenB)}}"}]}""";
        foreach (var credentials in new[] { ClientCredentials.Parse(lines, "clients.txt"), ClientCredentials.Parse(json, "clients.json") })
        {
            Assert.Equal(["a", "b"], credentials.ClientIds);
            Assert.Equal("a", credentials.Authenticate(TokenA));
            Assert.Equal("b", credentials.Authenticate(TokenB));
            Assert.Null(credentials.Authenticate(TokenA + "x"));
            Assert.Null(credentials.Authenticate(ClientCredentials.HashToken(TokenA))); // the hash is not a token
        }
    }

    [Fact]
    public void A_token_is_32_random_bytes_in_base64url_and_its_hash_is_SHA256_hex()
    {
        string token = ClientCredentials.NewToken();
        Assert.Equal(43, token.Length);
        Assert.Equal(32, System.Buffers.Text.Base64Url.DecodeFromChars(token).Length);
        Assert.NotEqual(token, ClientCredentials.NewToken());
        // SHA-256("abc"), FIPS 180-2's example.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ClientCredentials.HashToken("abc"));
    }

    [Theory]
    [InlineData("", "lists no clients")]
    [InlineData("# only a comment\n", "lists no clients")]
    [InlineData("a\n", "line 1: expected 'client-id sha256-hex-of-token', got 1 field(s)")]
    [InlineData("a HASH extra\n", "line 1: expected 'client-id sha256-hex-of-token', got 3 field(s)")]
    [InlineData("\na 123abc\n", "line 2: '123abc' for client 'a' is not 64 hex digits; the file holds the SHA-256 of each token, never the token itself")]
    [InlineData("a/b HASH\n", "line 1: client id 'a/b' must be 1 to 64 letters, digits, '.', '_' or '-'")]
    [InlineData("a HASH\nb HASH2\na HASH3\n", "client id 'a' appears twice (line 1 and line 3)")]
    [InlineData("a HASH\nb HASH\n", "clients 'a' and 'b' have the same token hash")]
    [InlineData("{\"clients\": [{\"id\": \"a\"}]}", "clients[0]: expected {\"id\": \"…\", \"sha256\": \"…\"} with string values")]
    [InlineData("{\"users\": []}", "is JSON without a \"clients\" array")]
    [InlineData("{\"clients\": [", "is not valid JSON")]
    public void A_bad_clients_file_is_refused_with_what_is_wrong_and_where(string text, string message)
    {
        string hash = new('a', 64), hash2 = new('b', 64), hash3 = new('c', 64);
        text = text.Replace("HASH3", hash3).Replace("HASH2", hash2).Replace("HASH", hash);
        var e = Assert.Throws<InvalidDataException>(() => ClientCredentials.Parse(text, "/etc/mc/clients.txt"));
        Assert.Contains("the clients file /etc/mc/clients.txt", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_clients_file_that_cannot_be_read_is_named()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mc-none-{Guid.NewGuid():N}", "clients.txt");
        var e = Assert.Throws<InvalidDataException>(() => ClientCredentials.Load(path));
        Assert.StartsWith($"cannot read the clients file {path}:", e.Message);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Credentials_writer_makes_private_token_files_and_a_clients_file_that_accepts_them()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"mc-cred-{Guid.NewGuid():N}");
        try
        {
            string clientsFile = CredentialsWriter.Write(["site-1", "site-2"], directory);
            var credentials = ClientCredentials.Load(clientsFile);
            Assert.Equal(["site-1", "site-2"], credentials.ClientIds);
            foreach (string id in credentials.ClientIds)
            {
                string path = CredentialsWriter.TokenPath(directory, id);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                string token = File.ReadAllText(path).Trim();
                Assert.Equal(id, credentials.Authenticate(token));
                Assert.DoesNotContain(token, File.ReadAllText(clientsFile)); // tokens are never stored in clear on the server side
            }
            var again = Assert.Throws<ArgumentException>(() => CredentialsWriter.Write(["site-1"], directory));
            Assert.Contains("already exists", again.Message);
            Assert.Contains("is listed twice", Assert.Throws<ArgumentException>(() => CredentialsWriter.Write(["x", "x"], directory + "-2")).Message);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}
