using System.Reflection;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Output;
using MetaCluster.Core.Runtime;
using MetaCluster.Core.Training;
using MetaCluster.Grains;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace MetaCluster.Cli.Startup;

/// <summary>Maps exceptions to one readable line on stderr and an exit code: 2 for bad input or environment, 1 for bugs.</summary>
public static class ErrorReporter
{
    public const int UsageError = 2, UnexpectedError = 1;

    public static int Report(Exception exception)
    {
        var e = Unwrap(exception);
        bool trace = Environment.GetEnvironmentVariable("METACLUSTER_TRACE") is "1" or "true";
        if (IsExpected(e))
        {
            Terminal.WriteError(e.Message);
            if (trace) Terminal.WriteDetail(e.ToString());
            return UsageError;
        }
        Terminal.WriteError($"unexpected {e.GetType().Name}: {e.Message}");
        Terminal.WriteDetail(trace ? e.ToString() : "set METACLUSTER_TRACE=1 for the stack trace.");
        return UnexpectedError;
    }

    private static bool IsExpected(Exception e) =>
        // Bad input (arguments, files) or environment (I/O, permissions, libtorch): the message says what to do.
        e is ArgumentException or CheckpointException or IOException or InvalidDataException or UnauthorizedAccessException
            or TorchRuntimeException
            // The cluster: cannot be reached, a run that failed there (the coordinator says where), a silo lost mid-call.
            or ClusterUnavailableException or ClusterTrainingException or RunStalledException or SiloUnavailableException or OrleansMessageRejectionException
            or ConnectionFailedException;

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or TargetInvocationException && e.InnerException is not null)
            e = e.InnerException!;
        return e;
    }
}
