using System.Diagnostics;
using System.Runtime.InteropServices;
using Grpc.Core;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// The gateway for real: Kestrel with TLS on loopback, clients that poll and compute through <see cref="FederationClient"/>,
/// and a test driver in the trainer's place that publishes rounds through <see cref="GatewayClientUpdates"/>.
/// </summary>
public sealed class FederationGatewayTests
{
    private static readonly FederationGatewayOptions Options = new() { MaxParameters = 16, ReceiveMargin = 1024, PollInterval = TimeSpan.FromMilliseconds(20) };

    [Fact]
    public async Task Sampled_clients_compute_and_the_trainer_collects_their_exact_updates_until_the_run_finishes()
    {
        await using var gateway = await TestGateway.StartAsync(Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int built = 0;
        var clients = TestGateway.ClientIds.Select(id => FederationClient.Create(new FederationClientOptions
        {
            Server = gateway.Address, ClientId = id, Token = gateway.Tokens[id], CaCertificatePath = gateway.CaPath,
            TrainerFactory = json =>
            {
                Interlocked.Increment(ref built);
                Assert.Equal("""{"algorithm":"fedavg"}""", json);
                return new FakeTrainer(id, json);
            },
        })).ToArray();
        var provider = new GatewayClientUpdates(gateway.Rounds, """{"algorithm":"fedavg"}""");
        var runs = clients.Select(client => client.RunAsync(timeout.Token)).ToArray();

        for (long round = 1; round <= 2; round++)
        {
            var theta = FakeTrainer.Theta(salt: (int)round);
            var outcome = await provider.CollectAsync(new FederatedRoundWork(round, 0, theta, ["a", "b"], TimeSpan.FromSeconds(20)), timeout.Token);
            Assert.Empty(outcome.Dropped);
            Assert.Equal(["a", "b"], outcome.Updates.Select(u => u.ClientId).Order());
            foreach (var update in outcome.Updates)
            {
                AssertSameBits(FakeTrainer.Expected(theta.Span, round, update.ClientId), update.Values);
                Assert.Equal(round, update.Round);
                Assert.Equal(FakeTrainer.Weight(update.ClientId), update.Weight);
                Assert.Equal(FakeTrainer.Metrics(update.ClientId), update.Metrics);
            }
        }
        provider.Dispose();
        var summaries = await Task.WhenAll(runs).WaitAsync(timeout.Token);
        foreach (var client in clients) client.Dispose();

        Assert.Equal([2, 2, 0], summaries.Select(s => s.UpdatesSent));
        Assert.All(summaries, s => Assert.Equal(0, s.UpdatesRefused));
        Assert.Equal([1, 1, 0], summaries.Select(s => s.TrainersBuilt)); // once per config version, only when sampled
        Assert.Equal(2, built);
        Assert.Equal(4, gateway.Metrics.Sum("metacluster.federation.updates_accepted"));
        Assert.Equal(0, gateway.Metrics.Sum("metacluster.federation.refused"));
        Assert.Equal(3, gateway.Metrics.ClientsSeen());
        Assert.True(gateway.Metrics.Sum("metacluster.federation.received") >= 4 * 16 * sizeof(float));
        Assert.True(gateway.Metrics.Sum("metacluster.federation.sent") >= 4 * 16 * sizeof(float));
    }

    [Fact]
    public async Task Every_refusal_has_its_status_code_and_metric_reason()
    {
        await using var gateway = await TestGateway.StartAsync(Options);
        var raw = gateway.RawClient();
        using var provider = new GatewayClientUpdates(gateway.Rounds, "{}");
        var theta = FakeTrainer.Theta();
        UpdateRequest Update(string id, long round, int attempt, float[]? values = null, long weight = 5) => new()
        {
            ClientId = id, Round = round, Attempt = attempt, Weight = weight, Metrics = new UpdateMetrics { Episodes = 1, PostLoss = 0.5 },
            Update = WireFloats.ToBytes(values ?? FakeTrainer.Expected(theta.Span, round, id)),
        };
        async Task<RpcException> Refused(StatusCode code, string reason, Func<AsyncUnaryCall<UpdateReply>> call)
        {
            long before = gateway.Metrics.Refused(reason);
            var e = await Assert.ThrowsAsync<RpcException>(async () => await call());
            Assert.Equal(code, e.StatusCode);
            await Eventually(() => gateway.Metrics.Refused(reason) == before + 1, $"metric reason {reason}");
            return e;
        }

        // Credentials: none, a wrong token, another client's id.
        var none = await Refused(StatusCode.Unauthenticated, RefusalReason.Unauthenticated, () => raw.SubmitUpdateAsync(Update("a", 1, 0)));
        Assert.Contains("no credentials", none.Status.Detail);
        var wrong = await Refused(StatusCode.Unauthenticated, RefusalReason.Unauthenticated,
            () => raw.SubmitUpdateAsync(Update("a", 1, 0), new Metadata { { "authorization", "Bearer " + ClientCredentials.NewToken() } }));
        Assert.Contains("wrong token", wrong.Status.Detail);
        var other = await Refused(StatusCode.PermissionDenied, RefusalReason.WrongClient, () => raw.SubmitUpdateAsync(Update("b", 1, 0), gateway.Bearer("a")));
        Assert.Contains("client 'a'", other.Status.Detail);
        await Refused(StatusCode.FailedPrecondition, RefusalReason.NotSampled, () => raw.SubmitUpdateAsync(Update("a", 1, 0), gateway.Bearer("a")));

        // Round 1, a and b sampled.
        var collect = provider.CollectAsync(new FederatedRoundWork(1, 0, theta, ["a", "b"], TimeSpan.FromSeconds(30))).AsTask();
        await Refused(StatusCode.FailedPrecondition, RefusalReason.NotSampled, () => raw.SubmitUpdateAsync(Update("c", 1, 0), gateway.Bearer("c")));
        await Refused(StatusCode.FailedPrecondition, RefusalReason.NotSampled, () => raw.SubmitUpdateAsync(Update("a", 1, 1), gateway.Bearer("a")));
        var large = await Refused(StatusCode.ResourceExhausted, RefusalReason.TooLarge,
            () => raw.SubmitUpdateAsync(Update("a", 1, 0, new float[4096]), gateway.Bearer("a")));
        Assert.Contains("exceeds the maximum", large.Status.Detail);
        Assert.True((await raw.SubmitUpdateAsync(Update("a", 1, 0), gateway.Bearer("a"))).Accepted);
        await Refused(StatusCode.AlreadyExists, RefusalReason.Duplicate, () => raw.SubmitUpdateAsync(Update("a", 1, 0), gateway.Bearer("a")));
        var shape = await Refused(StatusCode.InvalidArgument, RefusalReason.BadShape, () => raw.SubmitUpdateAsync(Update("b", 1, 0, new float[15]), gateway.Bearer("b")));
        Assert.Contains("60 bytes", shape.Status.Detail);

        // Every sampled client answered: the round is over without waiting for its deadline.
        var outcome = await collect.WaitAsync(TimeSpan.FromSeconds(10));
        AssertSameBits(FakeTrainer.Expected(theta.Span, 1, "a"), Assert.Single(outcome.Updates).Values);
        var dropped = Assert.Single(outcome.Dropped);
        Assert.Equal(("b", DropReason.Refused), (dropped.ClientId, dropped.Reason));
        Assert.StartsWith(RefusalReason.BadShape, dropped.Detail);
        await Refused(StatusCode.FailedPrecondition, RefusalReason.Late, () => raw.SubmitUpdateAsync(Update("b", 1, 0), gateway.Bearer("b")));

        // Round 2: a replays round 1; b's update is not finite; c's weight is 0.
        collect = provider.CollectAsync(new FederatedRoundWork(2, 0, theta, ["a", "b", "c"], TimeSpan.FromSeconds(30))).AsTask();
        await Refused(StatusCode.FailedPrecondition, RefusalReason.Replay, () => raw.SubmitUpdateAsync(Update("a", 1, 0), gateway.Bearer("a")));
        var nan = FakeTrainer.Expected(theta.Span, 2, "b");
        nan[7] = float.NaN;
        var nonFinite = await Refused(StatusCode.InvalidArgument, RefusalReason.NonFinite, () => raw.SubmitUpdateAsync(Update("b", 2, 0, nan), gateway.Bearer("b")));
        Assert.Contains("parameter 7", nonFinite.Status.Detail);
        await Refused(StatusCode.InvalidArgument, RefusalReason.BadWeight, () => raw.SubmitUpdateAsync(Update("c", 2, 0, weight: 0), gateway.Bearer("c")));
        Assert.True((await raw.SubmitUpdateAsync(Update("a", 2, 0), gateway.Bearer("a"))).Accepted);
        outcome = await collect.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("a", Assert.Single(outcome.Updates).ClientId);
        Assert.Equal([("b", DropReason.Refused), ("c", DropReason.Refused)], outcome.Dropped.Select(d => (d.ClientId, d.Reason)));

        Assert.Equal(2, gateway.Metrics.Sum("metacluster.federation.updates_accepted"));
        Assert.Equal(2, gateway.Metrics.Refused(RefusalReason.Unauthenticated));
        Assert.Equal(3, gateway.Metrics.Refused(RefusalReason.NotSampled));
        Assert.Equal(0, gateway.Metrics.Refused(RefusalReason.BadMetrics));
    }

    [Fact]
    public async Task A_sampled_client_that_does_not_answer_is_late_at_the_deadline()
    {
        await using var gateway = await TestGateway.StartAsync(Options);
        var raw = gateway.RawClient();
        using var provider = new GatewayClientUpdates(gateway.Rounds, "{}");
        var theta = FakeTrainer.Theta();
        var deadline = TimeSpan.FromSeconds(3);
        // The channel's TLS handshake first, so that the round's deadline is spent on the round.
        Assert.Equal(RunState.Waiting, (await raw.GetRoundAsync(new RoundRequest { ClientId = "a" }, gateway.Bearer("a"))).State);
        var clock = Stopwatch.StartNew();
        var collect = provider.CollectAsync(new FederatedRoundWork(4, 1, theta, ["a", "c"], deadline)).AsTask();

        // a asks, is sampled, gets θ with its layout, and answers; c never does.
        var round = await raw.GetRoundAsync(new RoundRequest { ClientId = "a" }, gateway.Bearer("a"));
        Assert.Equal((RunState.RoundOpen, 4L, 1, true), (round.State, round.Round, round.Attempt, round.Sampled));
        Assert.Equal(theta.ToBytes(), round.Theta.ToByteArray());
        Assert.Equal(["w", "b"], round.ThetaLayout.Select(t => t.Name));
        var notSampled = await raw.GetRoundAsync(new RoundRequest { ClientId = "b" }, gateway.Bearer("b"));
        Assert.False(notSampled.Sampled);
        Assert.True(notSampled.Theta.IsEmpty); // θ goes only to the clients that compute on it
        await raw.SubmitUpdateAsync(new UpdateRequest
        {
            ClientId = "a", Round = 4, Attempt = 1, Weight = 1, Update = WireFloats.ToBytes(new float[16]), Metrics = new UpdateMetrics { PostLoss = 1 },
        }, gateway.Bearer("a"));

        var outcome = await collect.WaitAsync(TimeSpan.FromSeconds(10));
        var elapsed = clock.Elapsed;
        Assert.True(elapsed >= deadline - TimeSpan.FromMilliseconds(50), $"collected after {elapsed.TotalSeconds:F2} s, before the deadline");
        Assert.Equal("a", Assert.Single(outcome.Updates).ClientId);
        var late = Assert.Single(outcome.Dropped);
        Assert.Equal(("c", DropReason.Late), (late.ClientId, late.Reason));
        Assert.Equal(RunState.Waiting, (await raw.GetRoundAsync(new RoundRequest { ClientId = "c" }, gateway.Bearer("c"))).State);
    }

    [Fact]
    public async Task A_client_refused_by_TLS_or_credentials_or_an_unreachable_server_stops_with_a_clear_message()
    {
        await using var gateway = await TestGateway.StartAsync(Options);
        string otherCa = TestCertificates.WritePem(TestCertificates.SelfSigned("some-other-ca"), gateway.Directory, "other");
        async Task<string> Fails(Uri server, string token, string? ca, TimeSpan? giveUp = null)
        {
            using var client = FederationClient.Create(new FederationClientOptions
            {
                Server = server, ClientId = "a", Token = token, CaCertificatePath = ca, TrainerFactory = json => new FakeTrainer("a", json),
                GiveUpAfter = giveUp ?? TimeSpan.FromMinutes(1), MaxBackoff = TimeSpan.FromMilliseconds(200),
            });
            var e = await Assert.ThrowsAsync<FederationClientException>(() => client.RunAsync().WaitAsync(TimeSpan.FromSeconds(20)));
            return e.Message;
        }

        string untrusted = await Fails(gateway.Address, gateway.Tokens["a"], ca: null);
        Assert.Contains("TLS with https://127.0.0.1", untrusted);
        Assert.Contains("is not trusted by this machine", untrusted);
        Assert.Contains("CN=metacluster-test-gateway", untrusted);
        Assert.Contains("--ca-cert", untrusted);

        string wrongCa = await Fails(gateway.Address, gateway.Tokens["a"], otherCa);
        Assert.Contains("does not chain to the CA in --ca-cert (CN=some-other-ca)", wrongCa);

        string credentials = await Fails(gateway.Address, ClientCredentials.NewToken(), gateway.CaPath);
        Assert.Contains("refused the credentials of client 'a': unknown client or wrong token", credentials);
        Assert.Contains("Check --client-id and --token-file", credentials);
        string othersToken = await Fails(gateway.Address, gateway.Tokens["b"], gateway.CaPath);
        Assert.Contains("refused client 'a': these credentials are client 'b''s", othersToken);

        var nowhere = new Uri($"https://127.0.0.1:{FreePort()}");
        string unreachable = await Fails(nowhere, gateway.Tokens["a"], gateway.CaPath, giveUp: TimeSpan.FromSeconds(0.5));
        Assert.Contains($"cannot reach the federation server at {nowhere}", unreachable);
        Assert.Contains("connection refused", unreachable);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void AssertSameBits(float[] expected, float[] actual) =>
        Assert.Equal(MemoryMarshal.AsBytes(expected.AsSpan()).ToArray(), MemoryMarshal.AsBytes(actual.AsSpan()).ToArray());

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) Assert.Fail($"not reached within 5 s: {what}");
            await Task.Delay(10);
        }
    }
}
