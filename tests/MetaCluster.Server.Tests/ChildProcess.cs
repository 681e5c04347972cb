using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace MetaCluster.Server.Tests;

/// <summary>A process the test started: its output kept for failure messages, stopped for sure on dispose.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public ChildProcess(string name, string file, IEnumerable<string> arguments)
    {
        Name = name;
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>The last lines of output, for an assertion message.</summary>
    public string Tail(int lines = 40) => $"--- {Name} (last {lines} lines) ---\n" + string.Join('\n', Output.Split('\n').TakeLast(lines));

    /// <summary>kill -9: no shutdown, no goodbye to the cluster — a crashed machine.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod: the host shuts down gracefully.</summary>
    public void Terminate()
    {
        if (!_process.HasExited) _ = kill(_process.Id, 15);
    }

    /// <summary>SIGSTOP: the process freezes — its sockets stay open, nothing answers (a VM paused, a stuck GC, a laptop lid).</summary>
    public void Freeze()
    {
        if (!_process.HasExited) _ = kill(_process.Id, 19);
    }

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Thaw()
    {
        if (!_process.HasExited) _ = kill(_process.Id, 18);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            _process.WaitForExit(); // drains the redirected output
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }
        _process.Dispose();
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port that is free now and that this test process has not handed out before: the kernel may give the same
    /// ephemeral port to two listeners opened one after the other (a server once got silo port = gateway port).
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
                if (HandedOut.Add(port)) return port;
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
