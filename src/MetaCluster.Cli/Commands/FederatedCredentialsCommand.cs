using System.CommandLine;
using MetaCluster.Cli.Output;
using MetaCluster.Gateway;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster federated credentials</c>: what a deployment of the federation gateway needs — one private token file
/// per client, and the server's clients file, which holds only the tokens' SHA-256.
/// </summary>
public static class FederatedCredentialsCommand
{
    public static Command Build()
    {
        var clients = new Option<string>("--clients") { Description = "the client ids, comma-separated", HelpName = "a,b,c", Required = true };
        var output = new Option<string>("--out") { Description = "where to write ID.token for each client and clients.txt for the server", HelpName = "DIR", Required = true };
        var command = new Command("credentials", "Make a token for each federated client and the server's clients file of token hashes.") { clients, output };
        command.SetAction(result =>
        {
            string[] ids = result.GetValue(clients)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            string directory = Path.GetFullPath(result.GetValue(output)!);
            string clientsFile = CredentialsWriter.Write(ids, directory);
            foreach (string id in ids) Terminal.WriteStatus($"{id}: {CredentialsWriter.TokenPath(directory, id)} (give it to the client only; mode 0600)");
            Terminal.WriteStatus($"server: {clientsFile} (metacluster-server --clients-file; holds token hashes, not tokens)");
            return 0;
        });
        return command;
    }
}
