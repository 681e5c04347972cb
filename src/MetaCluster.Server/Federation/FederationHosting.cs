using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MetaCluster.Gateway;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MetaCluster.Server.Federation;

/// <summary>
/// The federation gateway in metacluster-server: with --federation-port, Kestrel also listens there, TLS and HTTP/2
/// only, beside the plain HTTP port of health and metrics, and serves the gateway's gRPC service to the clients of the
/// clients file. Everything it needs is read before the silo starts, so a missing or bad certificate, key or clients
/// file is one error line and exit code 2, never a server that runs without its gateway.
/// </summary>
internal sealed class FederationHosting
{
    private readonly int _port;
    private readonly X509Certificate2 _certificate;
    private readonly ClientCredentials _credentials;
    private readonly FederationGatewayOptions _options;

    private FederationHosting(int port, X509Certificate2 certificate, ClientCredentials credentials, FederationGatewayOptions options, FederatedRunPlan? run) =>
        (_port, _certificate, _credentials, _options, Run) = (port, certificate, credentials, options, run);

    /// <summary>The federated run this server drives (--federated-run), or null: the gateway then serves no run.</summary>
    public FederatedRunPlan? Run { get; }

    /// <summary>The gateway's setup, or null without --federation-port; a <see cref="StartupRefusal"/> when a file cannot be used.</summary>
    public static FederationHosting? Load(ServerOptions server)
    {
        if (server.FederationPort is not { } port) return null;
        var certificate = LoadCertificate(server.TlsCert!, server.TlsKey!);
        ClientCredentials credentials;
        try
        {
            credentials = ClientCredentials.Load(server.ClientsFile!);
        }
        catch (InvalidDataException e)
        {
            throw new StartupRefusal($"{e.Message} (--clients-file)");
        }
        var run = FederatedRunPlan.Load(server, credentials.ClientIds);
        return new FederationHosting(port, certificate, credentials, new FederationGatewayOptions { MaxParameters = server.FederationMaxParams }, run);
    }

    public int ClientCount => _credentials.ClientIds.Count;

    public void AddServices(IServiceCollection services)
    {
        services.AddFederationGateway(_options, _credentials);
        if (Run is null) return;
        services.AddSingleton(Run);
        services.AddHostedService<FederatedRunHost>();
    }

    /// <summary>All interfaces (pods are reached through their Service), TLS and HTTP/2 only.</summary>
    public void Listen(KestrelServerOptions kestrel) => kestrel.ListenAnyIP(_port, listen => listen.UseFederationTls(_certificate));

    public void Map(WebApplication app) => app.MapFederationGateway(_port);

    private static X509Certificate2 LoadCertificate(string certPath, string keyPath)
    {
        foreach (var (flag, path) in new[] { ("--tls-cert", certPath), ("--tls-key", keyPath) })
        {
            try
            {
                using var _ = File.OpenRead(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StartupRefusal($"{flag} {path} cannot be read: {e.Message}");
            }
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new StartupRefusal($"--tls-cert {certPath} and --tls-key {keyPath} are not a PEM certificate and its private key: {e.Message}");
        }
        if (!certificate.HasPrivateKey)
            throw new StartupRefusal($"--tls-key {keyPath} holds no private key for --tls-cert {certPath}.");
        if (certificate.NotAfter < DateTime.Now)
            throw new StartupRefusal($"--tls-cert {certPath} expired on {certificate.NotAfter:yyyy-MM-dd HH:mm}; clients would refuse it. Renew the certificate.");
        return certificate;
    }
}
