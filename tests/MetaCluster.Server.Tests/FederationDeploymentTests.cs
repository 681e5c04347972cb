using System.Text.Json;
using MetaCluster.Gateway.Tests;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// The federated deployment, for real: a metacluster-server driving a run through its TLS gateway, three
/// `metacluster client` processes computing on their own side, and `metacluster federated simulate` with the same
/// options — θ must have the same bits, which is what makes a simulation a faithful rehearsal of a deployment.
/// </summary>
public sealed class FederationDeploymentTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mc-feddeploy-").FullName;

    private static readonly string[] Run =
    [
        "--dataset", "sinusoid", "--clients", "3", "--eval-clients", "0", "--algorithm", "fedmeta-maml",
        "--clients-per-round", "3", "--min-completion", "1", "--rounds", "4", "--local-episodes", "2", "--seed", "11",
    ];

    [Fact]
    public async Task Three_client_processes_over_TLS_give_the_simulations_theta_bits()
    {
        string[] ids = ["sine-000", "sine-001", "sine-002"];
        string credentials = Path.Combine(_directory, "credentials"), runFile = Path.Combine(_directory, "run.json");
        Directory.CreateDirectory(credentials);
        await Succeeds(CliProcess.Start("credentials", "federated", "credentials", "--clients", string.Join(',', ids), "--out", credentials));
        await Succeeds(CliProcess.Start("config", ["federated", "config", .. Run, "--out", runFile]));
        // The simulation runs beside the deployment: the same options, clients computed in its own process.
        using var simulate = CliProcess.Start("simulate", ["federated", "simulate", .. Run, "--no-eval", "--json", "--checkpoint", Path.Combine(_directory, "sim.mcc")]);

        var certificate = TestCertificates.SelfSigned();
        string cert = TestCertificates.WritePem(certificate, _directory, "server", withKey: true);
        int port = ChildProcess.FreePort();
        using var server = await ServerProcess.StartAsync("fed-coordinator", "all", redis: null, "feddeploy", extra:
        [
            "--federation-port", port.ToString(), "--tls-cert", cert, "--tls-key", Path.Combine(_directory, "server.key"),
            "--clients-file", Path.Combine(credentials, "clients.txt"), "--federated-run", runFile,
            "--checkpoint-directory", Path.Combine(_directory, "checkpoints"),
        ]);
        var clients = ids.Select(id => CliProcess.Start(id, "client", "--server", $"https://127.0.0.1:{port}", "--client-id", id,
            "--token-file", Path.Combine(credentials, id + ".token"), "--ca-cert", cert)).ToArray();
        try
        {
            // Clients stop by themselves once the server says the run is finished.
            foreach (var client in clients)
            {
                Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(120)), $"{client.Name} did not finish.\n{client.Tail()}\n{server.Process.Tail()}");
                output.WriteLine(client.Tail(6));
                Assert.True(client.ExitCode == 0, client.Tail());
            }
            var finished = await Poll.UntilAsync("the server's end-of-run line", () => Task.FromResult(RunLine(server.Process.Output)),
                line => line is not null, TimeSpan.FromSeconds(30), server.Process);
            var simulated = await CliProcess.JsonResultAsync(simulate, TimeSpan.FromSeconds(120));
            output.WriteLine(finished!.Value.ToString());
            Assert.Equal("finished", finished.Value.GetProperty("federated_run").GetString());
            Assert.Equal(4, finished.Value.GetProperty("rounds").GetInt64());
            Assert.Equal(simulated.GetProperty("theta_sha256").GetString(), finished.Value.GetProperty("theta_sha256").GetString());
            // Every round took all three clients' updates, counted on the server's metrics.
            string metrics = await server.ScrapeAsync();
            Assert.Matches(@"metacluster_federation_updates_accepted_total(\{[^}]*\})? 12\s", metrics);
            Assert.Matches(@"metacluster_federation_rounds_total(\{[^}]*\})? 4\s", metrics);
            // Every federation series the dashboard queries is exposed by a server running a federation.
            var exposed = PromQl.ExposedNames(metrics);
            var federation = DashboardSeries.Expressions().SelectMany(d => PromQl.MetricNames(d.Expression)).Where(DashboardSeries.IsFederation).Distinct().ToArray();
            Assert.True(federation.Length >= 5, $"the dashboard queries only {federation.Length} federation series");
            Assert.True(federation.All(exposed.Contains), "dashboard federation series not exposed: " + string.Join(", ", federation.Where(n => !exposed.Contains(n))));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private static JsonElement? RunLine(string output) =>
        output.Split('\n').Where(line => line.StartsWith("{\"federated_run\"")).Select(line => (JsonElement?)JsonDocument.Parse(line).RootElement).FirstOrDefault();

    private static async Task Succeeds(ChildProcess process)
    {
        using (process)
        {
            Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(60)), process.Tail());
            Assert.True(process.ExitCode == 0, process.Tail());
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
