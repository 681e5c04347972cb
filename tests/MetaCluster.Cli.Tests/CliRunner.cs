using System.Diagnostics;
using System.Text.Json;

namespace MetaCluster.Cli.Tests;

/// <summary>Runs the built `metacluster` in a child process and returns what a user would see.</summary>
public static class CliRunner
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metacluster.dll"));
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Runs a command that must succeed and print exactly one JSON line.</summary>
    public static JsonElement Json(params string[] arguments)
    {
        var (code, stdout, stderr) = Run(arguments);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Single(stdout.Trim().Split('\n'));
        return JsonDocument.Parse(stdout).RootElement;
    }
}
