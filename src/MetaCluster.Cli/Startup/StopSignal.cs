using System.Runtime.InteropServices;

namespace MetaCluster.Cli.Startup;

/// <summary>
/// Turns the first Ctrl+C (or SIGTERM) into a request to stop after the current round, so the run can save its
/// checkpoint and exit cleanly. A second Ctrl+C is not intercepted: it ends the process at once.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly PosixSignalRegistration? _terminate;
    private readonly CancellationTokenSource _stop = new();

    public StopSignal()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows())
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                Request();
            });
    }

    public bool Requested => _stop.IsCancellationRequested;

    /// <summary>Fires on the first Ctrl+C or SIGTERM.</summary>
    public CancellationToken Token => _stop.Token;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (Requested) return; // second press: let the runtime end the process
        e.Cancel = true;
        Request();
    }

    private void Request()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // a signal racing Dispose: nothing is listening any more
        }
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate?.Dispose();
        _stop.Dispose();
    }
}
