using System.Diagnostics;

namespace MetaCluster.Server.Tests;

/// <summary>Waiting on something another process does: poll, ride out transient failures, give up with what was last seen.</summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Reads until <paramref name="done"/> holds and returns that value; HTTP and Orleans errors are retried, any other
    /// exception from <paramref name="read"/> ends the wait. <paramref name="describe"/> says what was last seen.
    /// </summary>
    public static async Task<T> UntilAsync<T>(string what, Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null,
        ChildProcess? process = null, int intervalMs = 250, Func<T, string>? describe = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var watch = Stopwatch.StartNew();
        string last = "nothing yet";
        while (watch.Elapsed < limit)
        {
            try
            {
                var value = await read();
                if (done(value)) return value;
                last = describe is null ? $"{value}" : describe(value);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OrleansException or TimeoutException)
            {
                last = $"{e.GetType().Name}: {e.Message.Split('\n')[0]}";
            }
            await Task.Delay(intervalMs);
        }
        throw new TimeoutException($"waited {limit.TotalSeconds:F0} s for {what}; last: {last}\n{process?.Tail()}");
    }

    public static Task UntilAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null, ChildProcess? process = null) =>
        UntilAsync(what, condition, ok => ok, timeout, process);
}
