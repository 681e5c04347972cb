using MetaCluster.Core.Federated;
using MetaCluster.Grains.Federated;
using RunOutcome = (string Sha, System.Collections.Generic.IReadOnlyList<MetaCluster.Core.Federated.ParticipationRecord> Log);

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// Federated clients simulated on worker slots (issue 11): the same θ bits as the in-process simulation whatever the
/// number of slots, a client whose computation throws on its slot counted failed with the round going on (or
/// re-sampled) by the minimum-completion rule, and wide rounds split over several calls.
/// </summary>
[Collection(SharedCluster.Name)]
public class FederatedSlotTests(TestCluster fixture)
{
    private static FederatedConfig Sinusoid(int rounds = 3) => FederatedConfig.ForAlgorithm("sinusoid", "fedmeta-maml") with
    {
        Clients = 12, ClientsPerRound = 5, Rounds = rounds, LocalEpisodes = 2, Seed = 7,
    };

    /// <summary>θ and the participation log after <paramref name="config"/>'s rounds on a provider.</summary>
    private static async Task<RunOutcome> Run(FederatedConfig config, Func<FederatedAlgorithm, Federation, IClientUpdateProvider> provider)
    {
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        var trainer = new FederatedTrainer(algorithm, federation.TrainingIds, provider(algorithm, federation));
        while (!trainer.Finished) await trainer.RunRoundAsync();
        return (trainer.Theta.Sha256(), trainer.Participation);
    }

    private static Func<FederatedAlgorithm, Federation, IClientUpdateProvider> InProcess(FederatedConfig config, string? failing = null) =>
        (algorithm, federation) =>
        {
            var trainers = FederatedClients.Cached(algorithm, federation);
            return new SimulatedClients(id => id == failing ? throw new InjectedEpisodeFault($"client {id} broke") : trainers(id), config);
        };

    private Func<FederatedAlgorithm, Federation, IClientUpdateProvider> OnSlots(FederatedConfig config, string runId, int slots) =>
        (_, _) => new WorkerSlotClients(fixture.Client, config, runId, slots);

    /// <summary>
    /// The run on slots with the <paramref name="pick"/>-th client sampled in <paramref name="round"/> (attempt 0) throwing
    /// on its slot, and the in-process run where that client throws alike.
    /// </summary>
    private async Task<(string Failing, RunOutcome OnSlots, RunOutcome Expected)> RunWithAFailingClient(FederatedConfig config, string runId, int slots, long round, int pick)
    {
        string failing = FederatedTrainer.SampleParticipants(config.Seed, round, 0, Federations.Build(config).TrainingIds, config.ClientsPerRound)[pick];
        TestClientFaults.Instance.For(runId, work =>
        {
            if (work.ClientId == failing) throw new InjectedEpisodeFault($"client {work.ClientId} broke");
        });
        var onSlots = await Run(config, OnSlots(config, runId, slots));
        return (failing, onSlots, await Run(config, InProcess(config, failing)));
    }

    [Fact]
    public async Task SinusoidClientsOnOneOrThreeSlots_GiveTheInProcessBits()
    {
        var config = Sinusoid();
        var expected = await Run(config, InProcess(config));
        foreach (int slots in new[] { 1, 3 })
        {
            var onSlots = await Run(config, OnSlots(config, $"fed-bits-{slots}", slots));
            Assert.Equal(expected.Sha, onSlots.Sha);
            Assert.Equal(expected.Log.Select(r => string.Join(',', r.Completed)), onSlots.Log.Select(r => string.Join(',', r.Completed)));
        }
    }

    [Fact]
    public async Task ImageClientsOfAFolderFederationOnSlots_GiveTheInProcessBits()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mc-fed-{Guid.NewGuid():N}");
        try
        {
            for (int c = 0; c < 4; c++) _ = new TinyImageFolder(classes: 3, imagesPerClass: 3, seed: 10 + c, dir: Path.Combine(dir, $"site{c}"));
            var config = FederatedConfig.ForAlgorithm("folder", "fedavg") with
            {
                DataDir = dir, Ways = 2, Shots = 1, Queries = 1, EvalClients = 0.25, ClientsPerRound = 3, Rounds = 2, LocalEpisodes = 1, LocalSteps = 1, Seed = 3,
            };
            var expected = await Run(config, InProcess(config));
            var onSlots = await Run(config, OnSlots(config, "fed-images", 3));
            Assert.Equal(expected.Sha, onSlots.Sha);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AClientThatThrowsOnItsSlot_IsCountedFailed_AndTheRoundGoesOnAsInProcess()
    {
        // 5 sampled, min completion 0.5 (3 needed): one failure leaves 4, so the round goes ahead without it.
        var (failing, onSlots, expected) = await RunWithAFailingClient(Sinusoid(rounds: 4), "fed-fault", slots: 2, round: 1, pick: 2);

        Assert.Equal(expected.Sha, onSlots.Sha);
        var round1 = Assert.Single(onSlots.Log, r => r.Round == 1);
        Assert.True(round1.Accepted);
        var drop = Assert.Single(round1.Dropped);
        Assert.Equal((failing, DropReason.Failed), (drop.ClientId, drop.Reason));
        Assert.Contains("broke", drop.Detail);
        Assert.Equal(4, round1.Completed.Length);
        Assert.DoesNotContain(failing, round1.Completed);
    }

    [Fact]
    public async Task TooManyFailuresOnSlots_ResampleTheRound_AsInProcess()
    {
        // Min completion 1.0: the failing client sinks attempt 0 of every round it is sampled in; the re-sample
        // (attempt 1, a new seeded draw) goes ahead — the same records and bits as in process.
        var (_, onSlots, expected) = await RunWithAFailingClient(Sinusoid(rounds: 3) with { MinCompletion = 1.0 }, "fed-resample", slots: 3, round: 0, pick: 0);

        Assert.Equal(expected.Sha, onSlots.Sha);
        Assert.Equal(expected.Log.Select(r => (r.Round, r.Attempt, r.Accepted)), onSlots.Log.Select(r => (r.Round, r.Attempt, r.Accepted)));
        Assert.Contains(onSlots.Log, r => r.Round == 0 && r.Attempt == 0 && !r.Accepted);
    }

    [Fact]
    public void Deal_SpreadsClientsRoundRobin_AndSplitsASlotsShareIntoCallsOfAtMostPerCall()
    {
        string[] clients = ["a", "b", "c", "d", "e", "f", "g"];
        var shares = WorkerSlotClients.Deal(clients, slots: 2, perCall: 2);
        Assert.Equal([(0, "a,c"), (0, "e,g"), (1, "b,d"), (1, "f")], shares.Select(s => (s.Slot, string.Join(',', s.Clients))));
        Assert.Throws<ArgumentException>(() => WorkerSlotClients.Deal(clients, slots: 0, perCall: 2));
    }
}
