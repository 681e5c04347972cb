using MetaCluster.Contracts;
using MetaCluster.Grains;
using MetaCluster.Grains.Bulk;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// Per-silo dispatch (issue 14): θ goes once to each worker silo's hub, which deals the share over the silo's slots and
/// sends one exact partial sum back. The sum is exact, so θ keeps the single-process bits; failures inside a silo come
/// back as episode failures the coordinator retries on the other silo.
/// </summary>
[Collection(SharedCluster.Name)]
public class PerSiloDispatchTests(TestCluster fixture)
{
    private static readonly RunFollowing Fast = new() { PollInterval = TimeSpan.FromMilliseconds(50) };

    [Theory]
    [InlineData("maml", false)]
    [InlineData("reptile", false)]
    [InlineData("maml", true)]
    public async Task ThetaIsTheSingleProcessBitsAndEverySlotOfBothWorkerSilosComputes(string algorithm, bool perEpisode)
    {
        var config = Reference.Sinusoid(algorithm);
        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(Reference.NewRunId($"per-silo-{algorithm}"), config,
            new ClusterRunOptions(PerSiloDispatch: true, PerEpisodeContributions: perEpisode), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        // Two worker silos of two slots: the status counts slots, not hubs.
        Assert.Equal(2 * TestCluster.SlotsPerWorkerSilo, result.Status.LiveWorkers);
        Assert.Equal(2, result.Status.ContributingSilos.Length);
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values), $"{algorithm} through silo hubs differs from the single-process trainer.");
    }

    [Fact]
    public async Task ThetaAndTheSumsCrossProcessesOverTheBulkChannelAndNothingIsLeftThere()
    {
        var channels = fixture.Cluster.Silos.ToDictionary(s => s.Name, s => ((InProcessSiloHandle)s).ServiceProvider.GetRequiredService<BulkChannel>());
        var sent = channels.ToDictionary(c => c.Key, c => c.Value.BytesSent);
        var fetched = channels.ToDictionary(c => c.Key, c => c.Value.BytesFetched);
        var config = Reference.Sinusoid("maml");

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(Reference.NewRunId("per-silo-bulk"), config,
            new ClusterRunOptions(PerSiloDispatch: true), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
        long Sent(string silo) => channels[silo].BytesSent - sent[silo];
        long Fetched(string silo) => channels[silo].BytesFetched - fetched[silo];
        var workers = channels.Keys.Where(s => s != TestCluster.CoordinatorSilo).ToArray();
        // θ: once per round to each of the two hubs, from the coordinator's channel, and nothing else.
        Assert.Equal(3L * 2 * result.Theta.Values.Length, Sent(TestCluster.CoordinatorSilo));
        Assert.Equal(3L * result.Theta.Values.Length, Fetched(workers[0]));
        Assert.Equal(3L * result.Theta.Values.Length, Fetched(workers[1]));
        // The partial sums: every byte a hub sent, the coordinator fetched (one sum per hub and round).
        Assert.All(workers, w => Assert.True(Sent(w) > 0, $"{w} sent no partial sum over the bulk channel"));
        Assert.Equal(workers.Sum(Sent), Fetched(TestCluster.CoordinatorSilo));
        // θ withdrawn after each round, every sum taken: nothing waits anywhere.
        Assert.All(channels.Values, c => Assert.Equal(0, c.Waiting));
    }

    [Fact]
    public async Task AnEpisodeThatFailsInOneSiloIsRetriedInTheOtherAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("per-silo-retry");
        var triedOn = new List<string>();
        TestFaults.Instance.For(runId, work =>
        {
            if (work.Episode != 7) return;
            lock (triedOn)
            {
                triedOn.Add(work.SiloName);
                if (triedOn.Count > 1) return;
            }
            throw new InjectedEpisodeFault("injected: episode 7 fails once");
        });

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, new ClusterRunOptions(PerSiloDispatch: true), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(1, result.Status.Retried);
        Assert.Equal(2, triedOn.Count);
        Assert.NotEqual(triedOn[0], triedOn[1]); // the retry went to the other silo's hub
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HubsInAGroupAnswerThroughItsLeaderWithTheSingleProcessBits(bool perEpisode)
    {
        // Two worker silos in one group of two: the coordinator calls one hub, which deals half the share to the other.
        var channels = fixture.Cluster.Silos.ToDictionary(s => s.Name, s => ((InProcessSiloHandle)s).ServiceProvider.GetRequiredService<BulkChannel>());
        var sent = channels.ToDictionary(c => c.Key, c => c.Value.BytesSent);
        var fetched = channels.ToDictionary(c => c.Key, c => c.Value.BytesFetched);
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("hub-group");
        var silosSeen = new HashSet<string>();
        TestFaults.Instance.For(runId, work => { lock (silosSeen) silosSeen.Add(work.SiloName); });
        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config,
            new ClusterRunOptions(PerSiloDispatch: true, PerEpisodeContributions: perEpisode, HubGroup: 2), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(2 * TestCluster.SlotsPerWorkerSilo, result.Status.LiveWorkers); // the leader stands for both silos' slots
        Assert.Equal(2, silosSeen.Count); // both silos computed episodes …
        Assert.Equal(2, result.Status.ContributingSilos.Length); // … and the status names both, though one answered
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values), "θ through a hub group differs from the single-process trainer.");

        // θ down a broadcast tree: the coordinator sends it to the leader only, and the leader passes it on to the member.
        long theta = result.Theta.Values.Length;
        long Sent(string silo) => channels[silo].BytesSent - sent[silo];
        long Fetched(string silo) => channels[silo].BytesFetched - fetched[silo];
        var workers = channels.Keys.Where(s => s != TestCluster.CoordinatorSilo).ToArray();
        Assert.Equal(3 * theta, Sent(TestCluster.CoordinatorSilo));
        // The leader sends θ to the member and its partial sums (pre-summing) to the coordinator …
        var leader = Assert.Single(workers, w => Sent(w) == 3 * theta + Fetched(TestCluster.CoordinatorSilo));
        var member = workers.Single(w => w != leader);
        // … and fetches θ from the coordinator and the member's partial sums; the member fetches θ from the leader.
        Assert.Equal(3 * theta + Sent(member), Fetched(leader));
        Assert.Equal(3 * theta, Fetched(member));
        Assert.All(channels.Values, c => Assert.Equal(0, c.Waiting)); // the leader's copy withdrawn too
    }

    [Fact]
    public async Task AGroupMembersFailureComesBackThroughItsLeaderAndWithOneGroupNoOtherWorkerCanRetryIt()
    {
        // The group's leader is the first hub in the directory's order (silo addresses, ordinal): the other is its member.
        var workerSilos = fixture.Cluster.Silos.Where(s => s.Name != TestCluster.CoordinatorSilo)
            .OrderBy(s => s.SiloAddress.ToParsableString(), StringComparer.Ordinal).ToArray();
        Assert.Equal(2, workerSilos.Length);
        string member = workerSilos[1].Name;
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("hub-group-failure");
        TestFaults.Instance.For(runId, work =>
        {
            if (work.SiloName == member) throw new InjectedEpisodeFault($"injected: episode {work.Episode} fails in the group member {member}");
        });

        var error = await Assert.ThrowsAsync<ClusterTrainingException>(() => new ClusterTrainingClient(fixture.Client).TrainAsync(
            runId, config, new ClusterRunOptions(PerSiloDispatch: true, HubGroup: 2), Fast));

        // Retries go to another group (another silo's hub, as without groups): one group of both silos has none to go to.
        Assert.Contains($"fails in the group member {member}", error.Message);
        Assert.Contains(workerSilos[0].SiloAddress.ToParsableString() + "/hub", error.Message); // reported by the leader's hub
        Assert.Contains("no other live worker can retry it", error.Message);
    }

    [Fact]
    public void AShareIsDealtOverSlotsAndGroupHubsByTheirSlots()
    {
        long[] episodes = Enumerable.Range(0, 10).Select(i => (long)i).ToArray();
        // Two own slots and one member hub of four slots: six units, taken one of each target first.
        var shares = Grains.Worker.SiloHubGrain.Deal(episodes, [1, 1, 4]);
        Assert.Equal([[0, 6], [1, 7], [2, 3, 4, 5, 8, 9]], shares);
        // Fewer episodes than units: every target still gets one before any gets two.
        Assert.Equal([[0], [1], [2]], Grains.Worker.SiloHubGrain.Deal([0, 1, 2], [1, 1, 4]));
        Assert.Equal([[0], [], []], Grains.Worker.SiloHubGrain.Deal([0], [1, 1, 4]));
        Assert.Throws<ArgumentException>(() => Grains.Worker.SiloHubGrain.Deal(episodes, [1, 0]));
    }

    [Fact]
    public async Task AHubGroupWithoutPerSiloDispatchIsRefused()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => new ClusterTrainingClient(fixture.Client).TrainAsync(
            Reference.NewRunId("hub-group-flat"), Reference.Sinusoid("maml"), new ClusterRunOptions(HubGroup: 2), Fast));
        Assert.Contains("per-silo dispatch", error.Message);
    }

    [Fact]
    public async Task PerSiloDispatchCappedAtSomeWorkersIsRefusedNamingBoth()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => new ClusterTrainingClient(fixture.Client).TrainAsync(
            Reference.NewRunId("per-silo-capped"), Reference.Sinusoid("maml"), new ClusterRunOptions(MaxWorkers: 2, PerSiloDispatch: true), Fast));
        Assert.Contains("per-silo dispatch", error.Message);
        Assert.Contains("2 workers", error.Message);
    }
}
