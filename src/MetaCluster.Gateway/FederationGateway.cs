using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace MetaCluster.Gateway;

/// <summary>
/// How a web host serves the gateway: its services, a Kestrel listener that speaks only HTTP/2 over TLS, and the
/// gRPC endpoint behind the credentials check, reachable on the federation port only (never on the plain HTTP port
/// that serves health and metrics).
/// </summary>
public static class FederationGateway
{
    public static IServiceCollection AddFederationGateway(this IServiceCollection services, FederationGatewayOptions options, ClientCredentials credentials)
    {
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(credentials);
        services.AddSingleton<FederationMetrics>();
        services.AddSingleton<FederationRounds>();
        services.AddGrpc().AddServiceOptions<FederationService>(grpc =>
        {
            // θ's largest size plus a margin: a bigger message is refused (ResourceExhausted) before it is buffered.
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
            grpc.MaxSendMessageSize = null;
        });
        return services;
    }

    /// <summary>A federation listener: TLS with <paramref name="certificate"/> and HTTP/2 only — no plain text, no HTTP/1.1.</summary>
    public static ListenOptions UseFederationTls(this ListenOptions listen, X509Certificate2 certificate)
    {
        listen.Protocols = HttpProtocols.Http2;
        return listen.UseHttps(certificate);
    }

    /// <summary>The credentials check and the gRPC service, on connections to <paramref name="port"/> only.</summary>
    public static void MapFederationGateway(this WebApplication app, int port)
    {
        app.UseWhen(context => context.Connection.LocalPort == port, branch => branch.UseMiddleware<FederationAuthentication>());
        app.MapGrpcService<FederationService>().RequireHost($"*:{port}");
    }
}
