using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using MetaCluster.Gateway;
using MetaCluster.Gateway.Protocol;
using MetaCluster.Gateway.Tests;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// metacluster-server with --federation-port: the gateway on its own TLS port beside the plain HTTP port, its
/// refusals counted on /metrics, and a server that refuses to start (one line, exit 2) without a usable certificate,
/// key or clients file.
/// </summary>
public sealed class FederationServerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mc-fedsrv-").FullName;
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _certificate = TestCertificates.SelfSigned();

    [Fact]
    public async Task A_coordinator_serves_the_gateway_over_TLS_and_counts_refusals_on_metrics()
    {
        var (cert, key, clients, token) = Files();
        int port = ChildProcess.FreePort();
        using var server = await ServerProcess.StartAsync("coordinator-fed", "all", redis: null, "fed", extra:
            ["--federation-port", port.ToString(), "--tls-cert", cert, "--tls-key", key, "--clients-file", clients]);
        Assert.Contains($"Federation gateway on port {port} (gRPC over TLS): 1 client(s)", server.Process.Output);

        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == _certificate.GetCertHashString() },
            },
        });
        var client = new Federation.FederationClient(channel);
        await Poll.UntilAsync("the federation port to accept connections", () => Task.FromResult(Accepts(port)), accepts => accepts, TimeSpan.FromSeconds(30), server.Process);
        var reply = await client.GetRoundAsync(new RoundRequest { ClientId = "site-1" }, new Metadata { { "authorization", $"Bearer {token}" } });
        Assert.Equal(RunState.Waiting, reply.State); // no federated run yet: the client is told to poll again
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GetRoundAsync(new RoundRequest { ClientId = "site-1" }, new Metadata { { "authorization", "Bearer not-the-token" } }));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        // The plain HTTP port does not serve the gateway, even to a caller with a valid token.
        using var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{server.HttpPort}");
        var elsewhere = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Federation.FederationClient(plain).GetRoundAsync(new RoundRequest { ClientId = "site-1" }, new Metadata { { "authorization", $"Bearer {token}" } }));
        Assert.NotEqual(StatusCode.OK, elsewhere.StatusCode);

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(server.MetricsUrl);
        output.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("metacluster_federation"))));
        Assert.Matches(new Regex("""metacluster_federation_refused_total\{[^}]*reason="unauthenticated"[^}]*\} 1\s"""), metrics);
        Assert.Matches(new Regex("""metacluster_federation_refused_total\{[^}]*reason="too_large"[^}]*\} 0\s"""), metrics);
        Assert.Matches(new Regex("""metacluster_federation_clients_seen(\{[^}]*\})? 1\s"""), metrics);
        server.Process.Terminate();
        Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), server.Process.Tail());
    }

    [Fact]
    public async Task A_federation_port_without_TLS_or_with_files_it_cannot_use_is_one_error_line_and_exit_code_2()
    {
        var (cert, key, clients, _) = Files();
        string missing = Path.Combine(_directory, "missing.key");
        File.WriteAllText(Path.Combine(_directory, "bad-clients.txt"), "site-1 not-a-hash\n");
        var cases = new (string[] Flags, string Error)[]
        {
            (["--clients-file", clients], "error: --federation-port serves federated clients over TLS only: pass --tls-cert CERT.pem and --tls-key KEY.pem."),
            (["--tls-cert", cert, "--tls-key", missing, "--clients-file", clients], $"error: --tls-key {missing} cannot be read: Could not find file '{missing}'."),
            (["--tls-cert", cert, "--tls-key", cert, "--clients-file", clients], $"error: --tls-cert {cert} and --tls-key {cert} are not a PEM certificate and its private key:"),
            (["--tls-cert", cert, "--tls-key", key, "--clients-file", Path.Combine(_directory, "bad-clients.txt")],
                $"error: the clients file {Path.Combine(_directory, "bad-clients.txt")}, line 1: 'not-a-hash' for client 'site-1' is not 64 hex digits"),
        };
        foreach (var (flags, error) in cases)
        {
            using var server = await ServerProcess.StartAsync("coordinator-fed", "all", redis: null, "fed", ready: false,
                extra: ["--federation-port", ChildProcess.FreePort().ToString(), .. flags]);
            Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)), server.Process.Tail());
            var lines = server.Process.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            output.WriteLine(string.Join('\n', lines));
            Assert.True(server.Process.ExitCode == 2 && lines.Length == 1, $"exit code {server.Process.ExitCode}\n{server.Process.Tail()}");
            Assert.StartsWith(error, lines[0]);
        }
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.TcpClient();
            socket.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>The server's PEM certificate and key, a clients file with one client and that client's token.</summary>
    private (string Cert, string Key, string Clients, string Token) Files()
    {
        string cert = TestCertificates.WritePem(_certificate, _directory, "server", withKey: true);
        string token = ClientCredentials.NewToken();
        string clients = Path.Combine(_directory, "clients.txt");
        File.WriteAllText(clients, $"site-1 {ClientCredentials.HashToken(token)}\n");
        return (cert, Path.Combine(_directory, "server.key"), clients, token);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
