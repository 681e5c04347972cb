using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MetaCluster.Gateway.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// A real gateway: Kestrel on a loopback port with TLS (a certificate made for the test) and HTTP/2, the gateway's
/// services and endpoint as the server wires them, and clients a, b and c with known tokens.
/// </summary>
public sealed class TestGateway : IAsyncDisposable
{
    public static readonly IReadOnlyList<string> ClientIds = ["a", "b", "c"];

    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];

    private TestGateway(WebApplication app, int port, X509Certificate2 certificate, string directory, Dictionary<string, string> tokens)
    {
        (_app, Port, Certificate, Directory, Tokens) = (app, port, certificate, directory, tokens);
        Metrics = new MetricCapture(app.Services.GetRequiredService<IMeterFactory>());
    }

    public int Port { get; }
    public X509Certificate2 Certificate { get; }
    /// <summary>A temporary folder with the CA's PEM file (ca.pem), deleted with the gateway.</summary>
    public string Directory { get; }
    public IReadOnlyDictionary<string, string> Tokens { get; }
    public MetricCapture Metrics { get; }
    public Uri Address => new($"https://127.0.0.1:{Port}");
    public string CaPath => Path.Combine(Directory, "ca.pem");
    public FederationRounds Rounds => _app.Services.GetRequiredService<FederationRounds>();

    public static async Task<TestGateway> StartAsync(FederationGatewayOptions options)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"mc-gw-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        var certificate = TestCertificates.SelfSigned();
        TestCertificates.WritePem(certificate, directory, "ca");
        var tokens = ClientIds.ToDictionary(id => id, _ => ClientCredentials.NewToken());
        var credentials = ClientCredentials.Parse(string.Join("\n", tokens.Select(t => $"{t.Key} {ClientCredentials.HashToken(t.Value)}")), "test");

        int port = FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseFederationTls(certificate)));
        builder.Services.AddFederationGateway(options, credentials);
        var app = builder.Build();
        app.MapFederationGateway(port);
        await app.StartAsync();
        return new TestGateway(app, port, certificate, directory, tokens);
    }

    /// <summary>A plain generated gRPC client that trusts the test CA, to send what a well-behaved client never would.</summary>
    public Federation.FederationClient RawClient()
    {
        var check = new ServerCertificateCheck(Certificate);
        var channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = check.Validate } },
            MaxSendMessageSize = null,
        });
        _channels.Add(channel);
        return new Federation.FederationClient(channel);
    }

    public Grpc.Core.Metadata Bearer(string clientId) => new() { { "authorization", $"Bearer {Tokens[clientId]}" } };

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels) channel.Dispose();
        Metrics.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
