using System.Diagnostics;
using System.Reflection;

namespace MetaCluster.Cli.Tests;

/// <summary>A fact that runs only where python3 is on PATH; elsewhere it is reported as skipped, with the reason.</summary>
public sealed class Python3FactAttribute : FactAttribute
{
    public static string? Python3 { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Select(dir => Path.Combine(dir, "python3")).FirstOrDefault(File.Exists);

    public Python3FactAttribute()
    {
        if (Python3 is null) Skip = $"python3 is not on PATH, so {string.Join(" and ", ResultsPageTests.Suites)} (the results page's and time-to-accuracy scripts' tests) did not run: install python3.";
    }
}

/// <summary>bench/results.py, which writes docs/results.md from the JSON lines, bench/tta_table.py, which writes the time-to-accuracy
/// tables, and bench/time_to_accuracy.py's stopping rules: their own unittest suites, run from here so the suite covers them.</summary>
public sealed class ResultsPageTests
{
    internal static readonly string[] Suites = ["bench/test_results.py", "bench/test_tta_table.py", "bench/test_time_to_accuracy.py"];

    /// <summary>The repository root, where the bench/ scripts the tests run live.</summary>
    internal static string Repository { get; } = typeof(ResultsPageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    [Python3Fact]
    public void GeneratorUnitTestsPass()
    {
        var start = new ProcessStartInfo(Python3FactAttribute.Python3!)
        {
            WorkingDirectory = Repository,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in new[] { "-m", "unittest", "-v" }.Concat(Suites)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd(); // unittest reports on stderr
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{string.Join(" or ", Suites)} failed (exit {process.ExitCode}):\n{stderr}{stdout.Result}");
        // "Ran N tests" with N > 0, and a bare "OK": "OK (skipped=1)" would mean a case did not run.
        var ran = System.Text.RegularExpressions.Regex.Match(stderr, @"^Ran (\d+) tests?", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(ran.Success && int.Parse(ran.Groups[1].Value) > 0, stderr);
        Assert.Equal("OK", stderr.TrimEnd().Split('\n')[^1]);
    }
}
