using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaCluster.Contracts;
using MetaCluster.Core.Tests;
using MetaCluster.Core.Training;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// The observability path for real: a server trains a small classifier, Debian's prometheus scrapes it with
/// deploy/prometheus/prometheus.yml, and the Grafana dashboard asks only for series the server exposes.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mc-metrics-").FullName;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>
    /// Orleans series that exist only after their first event (OpenTelemetry exports a counter from its first
    /// increment): a healthy test cluster never times out a call. For these the check is that Orleans itself defines
    /// the instrument the exporter would name so.
    /// </summary>
    private static readonly Dictionary<string, string> FirstEventOnly = new()
    {
        ["orleans_app_requests_timedout_total"] = "orleans-app-requests-timedout",
    };

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Prometheus_scrapes_the_training_series_and_every_dashboard_series_is_exposed()
    {
        await using var redis = await RedisServer.StartAsync();
        string clusterId = $"m-{Guid.NewGuid():N}"[..10];
        using var server = await ServerProcess.StartAsync("server", "all", redis.Configuration, clusterId);
        await using var client = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
        string runId = $"metrics-{clusterId}";
        var config = TrainingConfig.ForDataset("folder", "maml") with
        {
            DataDir = WriteImageFolder(), Ways = 2, Shots = 1, Queries = 2, MetaBatch = 2, Iterations = 1_000_000, CheckpointEvery = 5,
        };
        await client.Runs.StartAsync(runId, config);
        try
        {
            await Poll.UntilAsync("10 rounds and a checkpoint", async () => await client.Runs.GetStatusAsync(runId) is { Round: >= 10, CheckpointRound: not null });

            // Prometheus, configured by the project's own file, pointed at this server's HTTP port.
            string prometheusUrl = StartPrometheus(server.HttpPort, out var prometheus);
            using (prometheus)
            {
                string query = $"metacluster_rounds_completed_total{{run_id=\"{runId}\",algorithm=\"maml\"}}";
                JsonElement series = default;
                await Poll.UntilAsync("prometheus to hold the run's rounds", async () =>
                {
                    var answer = await Query(prometheusUrl, query);
                    if (answer.GetArrayLength() == 0) return false;
                    series = answer[0];
                    return true;
                }, process: prometheus);
                double rounds = double.Parse(series.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(rounds >= 10, $"prometheus saw {rounds} rounds");
                var loss = await Query(prometheusUrl, $"metacluster_meta_loss{{run_id=\"{runId}\",phase=\"post\"}}");
                Assert.Equal(1, loss.GetArrayLength());
                var accuracy = await Query(prometheusUrl, $"metacluster_query_accuracy{{run_id=\"{runId}\",phase=\"post\"}}");
                double post = double.Parse(accuracy[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(post, 0, 1);
                var silos = await Query(prometheusUrl, "orleans_directory_ring_size");
                Assert.True(silos.GetArrayLength() > 0, "prometheus has no Orleans series");
                output.WriteLine($"prometheus: {query} = {rounds}; post-adaptation accuracy {post:F3}");
            }

            // Every series the dashboard queries is in a live scrape (or, for first-event-only Orleans counters, defined by Orleans).
            string scrape = await server.ScrapeAsync();
            var exposed = PromQl.ExposedNames(scrape);
            Assert.Contains("metacluster_bulk_bytes_total", exposed); // the bulk channel's counter, from the silo's start
            var dashboard = DashboardSeries.Expressions();
            Assert.True(dashboard.Count >= 10, $"the dashboard has only {dashboard.Count} queries");
            var missing = new List<string>();
            foreach (var (where, expression) in dashboard)
                foreach (string name in PromQl.MetricNames(expression))
                {
                    // A training server runs no federation gateway: FederationDeploymentTests checks those series on one that does.
                    if (exposed.Contains(name) || DashboardSeries.IsFederation(name)) continue;
                    if (FirstEventOnly.TryGetValue(name, out string? instrument) && OrleansDefines(instrument)) continue;
                    missing.Add($"{name} (in {where}: {expression})");
                }
            Assert.True(missing.Count == 0, "dashboard series not exposed by the server:\n" + string.Join('\n', missing.Distinct()));
            output.WriteLine($"dashboard: {dashboard.Count} queries, {dashboard.SelectMany(d => PromQl.MetricNames(d.Expression)).Distinct().Count()} distinct series, all exposed");
        }
        finally
        {
            await client.Runs.CancelAsync(runId);
        }
    }

    /// <summary>Two well-separated classes of 28×28 images, four each: dark with a speck, light with a bar.</summary>
    private string WriteImageFolder()
    {
        const int size = 28;
        string root = Path.Combine(_work, "images");
        for (int i = 0; i < 4; i++)
            foreach (string kind in new[] { "dark", "light" })
            {
                var gray = new byte[size * size];
                if (kind == "dark") gray[3 + 5 * i] = 40;
                else
                {
                    Array.Fill(gray, (byte)255);
                    for (int x = 4; x < size - 4; x++) gray[(6 + 3 * i) * size + x] = 0;
                }
                Directory.CreateDirectory(Path.Combine(root, kind));
                File.WriteAllBytes(Path.Combine(root, kind, $"{i}.png"), TestPng.Encode(gray, size, size));
            }
        return root;
    }

    private string StartPrometheus(int httpPort, out ChildProcess process)
    {
        string prometheus = Paths.Tool("prometheus", "prometheus");
        string config = File.ReadAllText(Path.Combine(Paths.Repository, "deploy", "prometheus", "prometheus.yml"));
        Assert.Contains("127.0.0.1:8080", config);
        string path = Path.Combine(_work, "prometheus.yml");
        File.WriteAllText(path, config.Replace("127.0.0.1:8080", $"127.0.0.1:{httpPort}"));
        int port = ChildProcess.FreePort();
        process = new ChildProcess("prometheus", prometheus,
            [$"--config.file={path}", $"--storage.tsdb.path={Path.Combine(_work, "tsdb")}", $"--web.listen-address=127.0.0.1:{port}"]);
        return $"http://127.0.0.1:{port}";
    }

    private static async Task<JsonElement> Query(string prometheus, string query)
    {
        var answer = await Http.GetFromJsonAsync<JsonElement>($"{prometheus}/api/v1/query?query={Uri.EscapeDataString(query)}");
        Assert.Equal("success", answer.GetProperty("status").GetString());
        return answer.GetProperty("data").GetProperty("result");
    }

    /// <summary>Orleans declares an instrument of this name (a string constant in its assemblies).</summary>
    private static bool OrleansDefines(string instrument)
    {
        byte[] needle = Encoding.Unicode.GetBytes(instrument);
        foreach (string dll in Directory.GetFiles(AppContext.BaseDirectory, "Orleans.*.dll"))
            if (File.ReadAllBytes(dll).AsSpan().IndexOf(needle) >= 0) return true;
        return false;
    }
}
