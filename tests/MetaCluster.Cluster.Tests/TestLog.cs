using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Cluster.Tests;

/// <summary>What the test silos log at warning level or above, for tests that check a fault is reported.</summary>
public sealed class TestLog : ILoggerProvider
{
    public static TestLog Instance { get; } = new();
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    public IEnumerable<(LogLevel Level, string Message)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() { }

    private sealed class Logger(TestLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) log._entries.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
