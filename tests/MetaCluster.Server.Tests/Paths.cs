using System.Reflection;

namespace MetaCluster.Server.Tests;

/// <summary>Where the built server and CLI are: their own output folders, from this test assembly's build settings.</summary>
public static class Paths
{
    private static string Metadata(string key) =>
        typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public static string Repository { get; } = Metadata("RepositoryRoot");
    private static string Configuration { get; } = Metadata("Configuration");

    public static string Server { get; } = Output("MetaCluster.Server", "metacluster-server.dll");
    public static string Cli { get; } = Output("MetaCluster.Cli", "metacluster.dll");

    private static string Output(string project, string dll)
    {
        string path = Path.Combine(Repository, "src", project, "bin", Configuration, "net10.0", "linux-x64", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing: build the solution first (dotnet build -c {Configuration}).");
        return path;
    }

    /// <summary>A program the tests need from the system, with the package that provides it.</summary>
    public static string Tool(string name, string package)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException($"{name} is not installed: apt-get install {package} (.ci/run installs it).");
    }
}
