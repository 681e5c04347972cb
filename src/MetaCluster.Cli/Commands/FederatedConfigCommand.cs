using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster federated config … --out FILE</c>: the run a deployment's server drives (metacluster-server
/// --federated-run FILE), from the same options and published defaults as <c>federated simulate</c> — so a simulation
/// with those options and the deployment compute the same run.
/// </summary>
public sealed class FederatedConfigCommand
{
    private readonly FederatedOptions _run = new();
    private readonly Option<string> _out = new("--out") { Description = "where to write the run's config (JSON)", HelpName = "FILE", Required = true };

    public Command Build()
    {
        var command = new Command("config", "Write a federated run's config for metacluster-server --federated-run (the options of federated simulate).");
        _run.AddTo(command);
        command.Add(_out);
        command.SetAction(result =>
        {
            var config = _run.ToConfig(result);
            config.Validate();
            string path = Path.GetFullPath(result.GetValue(_out)!);
            File.WriteAllText(path, config.ToJson() + "\n");
            Terminal.WriteStatus($"wrote {path}: {config.Algorithm} on {config.Dataset}, {config.ClientsPerRound} clients a round, {config.Rounds} rounds, seed {config.Seed}.");
            return 0;
        });
        return command;
    }
}
