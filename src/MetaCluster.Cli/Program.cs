using System.CommandLine;
using MetaCluster.Cli.Commands;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;

var root = new RootCommand("MetaCluster: meta-learning (MAML, FOMAML, Reptile, Meta-SGD, ANIL, ProtoNet) on TorchSharp.")
{
    new TrainCommand().Build(),
    new EvaluateCommand().Build(),
    new BenchCommand().Build(),
    new AdaptCommand().Build(),
    new ExportCommand().Build(),
    RunControlCommand.Status(),
    RunControlCommand.Cancel(),
    new ClientCommand().Build(),
    FederatedCommand.Build(),
    new PlotCommand().Build(),
};

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors) Terminal.WriteError(error.Message);
    var verb = parsed.CommandResult.Command;
    Terminal.WriteDetail(verb is RootCommand ? "see: metacluster --help" : $"see: metacluster {verb.Name} --help");
    return ErrorReporter.UsageError;
}

try
{
    // Our own handlers: errors become one line (ErrorReporter), Ctrl+C stops training after a round (StopSignal).
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (Exception e)
{
    return ErrorReporter.Report(e);
}
