using System.Runtime.InteropServices;

namespace MetaCluster.Cli.Startup;

/// <summary>
/// Turns the first Ctrl+C (or SIGTERM) into a request to stop after the current round, so the run can save its
/// checkpoint and exit cleanly. A second Ctrl+C is not intercepted: it ends the process at once.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly PosixSignalRegistration? _terminate;
    private volatile bool _requested;

    public StopSignal()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows())
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                _requested = true;
            });
    }

    public bool Requested => _requested;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (_requested) return; // second press: let the runtime end the process
        e.Cancel = true;
        _requested = true;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate?.Dispose();
    }
}
