using System.Diagnostics;
using System.Text.Json;

namespace MetaCluster.Cli.Tests;

/// <summary>Runs the built `metacluster` in a child process and returns what a user would see.</summary>
public static class CliRunner
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments) => Run(new Dictionary<string, string>(), arguments);

    /// <summary>Runs with extra environment variables (e.g. XDG_CACHE_HOME, so a test's dataset cache stays in its temp folder).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metacluster.dll"));
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Runs a command that must be refused as a usage error: exit code 2, nothing on stdout; returns stderr.</summary>
    public static string Refused(params string[] arguments)
    {
        var (code, stdout, stderr) = Run(arguments);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        return stderr;
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
