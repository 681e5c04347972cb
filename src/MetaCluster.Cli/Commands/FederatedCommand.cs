using System.CommandLine;

namespace MetaCluster.Cli.Commands;

/// <summary><c>metacluster federated</c>: federated meta-learning — <c>simulate</c> a federation here, <c>evaluate</c> its checkpoint on new clients, write clients' <c>credentials</c> for a deployment.</summary>
public static class FederatedCommand
{
    public static Command Build() => new("federated", "Federated meta-learning: clients that keep their data train a shared initialization; only updates leave them.")
    {
        new FederatedSimulateCommand().Build(),
        new FederatedEvaluateCommand().Build(),
        new FederatedConfigCommand().Build(),
        FederatedCredentialsCommand.Build(),
    };
}
