using System.CommandLine;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Gateway;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster client</c>: a federated client outside the cluster. It talks to the coordinator's federation gateway
/// (gRPC over TLS) with its own token, computes its update on its own data when sampled, and sends only that update,
/// its weight and its figures.
/// </summary>
public sealed class ClientCommand
{
    private readonly Option<string> _server = new("--server") { Description = "the coordinator's federation gateway", HelpName = "https://HOST:PORT", Required = true };
    private readonly Option<string> _clientId = new("--client-id") { Description = "this client's id, as in the server's clients file", HelpName = "ID", Required = true };
    private readonly Option<string> _tokenFile = new("--token-file")
    {
        Description = "the file with this client's token (metacluster federated credentials wrote it; keep it private)",
        HelpName = "FILE",
        Required = true,
    };
    private readonly Option<string?> _data = new("--data") { Description = "this client's own data (it never leaves the machine)", HelpName = "DIR" };
    private readonly Option<string?> _caCert = new("--ca-cert")
    {
        Description = "PEM certificate of the CA that signed the server's certificate (default: this machine's trusted roots)",
        HelpName = "FILE",
    };

    public Command Build()
    {
        var command = new Command("client", "Take part in a federated run as a client: compute updates on local data and send them to the coordinator's gateway.");
        foreach (var option in new Option[] { _server, _clientId, _tokenFile, _data, _caCert }) command.Add(option);
        command.SetAction((result, cancellation) => Execute(result, cancellation));
        return command;
    }

    private async Task<int> Execute(ParseResult result, CancellationToken cancellation)
    {
        string clientId = result.GetValue(_clientId)!;
        string? data = result.GetValue(_data) is { } dir ? Path.GetFullPath(dir) : null;
        if (data is not null && !Directory.Exists(data)) throw new ArgumentException($"--data {data} is not a folder.");
        string serverText = result.GetValue(_server)!;
        if (!Uri.TryCreate(serverText, UriKind.Absolute, out var server))
            throw new ArgumentException($"--server must be https://HOST:PORT (got '{serverText}').");
        string token = File.ReadAllText(result.GetValue(_tokenFile)!).Trim();

        using var client = FederationClient.Create(new FederationClientOptions
        {
            Server = server,
            ClientId = clientId,
            Token = token,
            CaCertificatePath = result.GetValue(_caCert),
            // The same trainer a simulated client runs: the deployment gives the simulation's bits.
            TrainerFactory = json => FederatedClients.CreateTrainer(json, clientId, data),
            Log = Terminal.WriteStatus,
        });
        Terminal.WriteStatus($"client {clientId}: connecting to {server}");
        try
        {
            var summary = await client.RunAsync(cancellation);
            Terminal.WriteStatus($"client {clientId}: {summary.UpdatesSent} update(s) sent, {summary.UpdatesRefused} refused.");
            return 0;
        }
        catch (FederationClientException e)
        {
            Terminal.WriteError(e.Message);
            return ErrorReporter.UsageError;
        }
    }
}
