using System.CommandLine;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Contracts;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster status</c> and <c>metacluster cancel</c>: a run on a cluster, by id, from any machine that reaches
/// its gateways (or its Redis membership store).
/// </summary>
public sealed class RunControlCommand
{
    private readonly bool _cancel;
    private readonly Option<string> _run = new("--run") { Description = "the run id (train prints it at start)", HelpName = "ID", Required = true };
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<bool> _wait = new("--wait") { Description = "wait until the run has stopped (it finishes the round in flight and writes its checkpoint)", Arity = ArgumentArity.Zero };
    private readonly ClusterConnectionOptions _cluster = new($"the cluster: Redis membership or silo gateways (default {ClusterAddress.Default})");

    private RunControlCommand(bool cancel) => _cancel = cancel;

    public static Command Status() => new RunControlCommand(cancel: false).Build();
    public static Command Cancel() => new RunControlCommand(cancel: true).Build();

    private Command Build()
    {
        var command = _cancel
            ? new Command("cancel", "Cancel a run on a cluster: it stops after the round in flight and writes a final checkpoint.")
            : new Command("status", "Show a run's progress on a cluster: round, meta-loss, accuracy, workers, re-dispatched episodes.");
        command.Add(_run);
        _cluster.AddTo(command);
        if (_cancel) command.Add(_wait);
        command.Add(_json);
        command.SetAction((result, _) => Execute(result));
        return command;
    }

    private async Task<int> Execute(ParseResult result)
    {
        string runId = result.GetValue(_run)!;
        if (string.IsNullOrWhiteSpace(runId)) throw new ArgumentException("--run needs a run id.");
        var address = _cluster.Address(result, ClusterAddress.Default)!;
        await using var cluster = await _cluster.ConnectAsync(result, address);
        var client = new ClusterTrainingClient(cluster.Grains);
        var status = await client.GetStatusAsync(runId);
        if (status.State == RunState.NotStarted)
            throw new ArgumentException($"the cluster at {address} has no run '{runId}' (check the id that train printed, and --cluster).");
        if (_cancel && !status.IsFinished)
        {
            status = await client.CancelAsync(runId);
            if (result.GetValue(_wait)) status = await client.FollowAsync(runId, status.Round, new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(200) });
        }

        string command = _cancel ? "cancel" : "status";
        if (result.GetValue(_json))
        {
            JsonReport.Write(RunStatusView.ToJson(status, command, address.Text));
            return 0;
        }
        Terminal.Out.Write(RunStatusView.ToTable(status, address.Text));
        if (_cancel)
            Terminal.WriteStatus(status.IsFinished
                ? $"run {runId} is {RunStatusView.StateName(status.State)} at round {status.Round}."
                : $"cancel requested: run {runId} stops after the round in flight and writes its checkpoint (add --wait to wait for it).");
        return 0;
    }
}
