namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// θ and every contribution travel as one grain message each, and Orleans refuses a body over
/// MessagingOptions.MaxMessageBodySize (100 MiB by default). Checked before a run starts, so an oversized model fails
/// with the numbers instead of as a serialization error mid-round.
/// </summary>
public static class MessageSizeGuard
{
    /// <summary>Room for everything in a work message besides θ: config JSON, indices, metrics, Orleans' headers.</summary>
    public const int Overhead = 64 * 1024;

    public static void EnsureFits(long parameterCount, int maxMessageBodySize)
    {
        long thetaBytes = 4L * parameterCount;
        if (thetaBytes + Overhead > maxMessageBodySize)
            throw new ArgumentException(
                $"the model has {parameterCount:N0} parameters ({Mib(thetaBytes)} as float32), which does not fit Orleans' message body " +
                $"limit of {Mib(maxMessageBodySize)} (MaxMessageBodySize in SiloMessagingOptions/ClientMessagingOptions): θ and each episode's " +
                "contribution travel as one message. Use a smaller model, or raise the limit on every silo and client.");
    }

    /// <summary>How many contributions one reply may carry and stay inside the limit (at least 1 once <see cref="EnsureFits"/> passed).</summary>
    public static int EpisodesPerCall(long parameterCount, int maxMessageBodySize) =>
        (int)Math.Clamp((maxMessageBodySize - Overhead) / Math.Max(1, 4L * parameterCount + 256), 1, int.MaxValue);

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";
}
