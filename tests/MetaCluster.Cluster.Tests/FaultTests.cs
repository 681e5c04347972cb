using System.Diagnostics.Metrics;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;
using MetaCluster.Grains.Telemetry;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class FaultTests(TestCluster fixture)
{
    [Fact]
    public async Task AnEpisodeThatFailsOnceIsRetriedOnAnotherWorkerAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("retry");
        int failures = 0;
        TestFaults.Instance.For(runId, work =>
        {
            if (work.Episode == 10 && Interlocked.Increment(ref failures) == 1) throw new InjectedEpisodeFault("injected: episode 10 fails once");
        });

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(1, result.Status.Retried);
        Assert.Equal(2, failures); // the failure, then the successful retry
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
    }

    [Fact]
    public async Task AnEpisodeThatFailsTwiceStopsTheRunNamingItAndTheLastCheckpointStaysIntact()
    {
        var config = Reference.Sinusoid("maml") with { CheckpointEvery = 1 };
        string runId = Reference.NewRunId("fail");
        string directory = Reference.NewDirectory();
        TestFaults.Instance.For(runId, work =>
        {
            if (work.Episode == 17) throw new InjectedEpisodeFault($"injected: episode 17 always fails (worker {work.Worker})");
        });
        try
        {
            var client = new ClusterTrainingClient(fixture.Client);
            var failure = await Assert.ThrowsAsync<ClusterTrainingException>(() =>
                client.TrainAsync(runId, config, new ClusterRunOptions(directory), following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) }));

            Assert.Equal(RunState.Failed, failure.Status.State);
            Assert.Equal(2, failure.Status.Round); // rounds 0 and 1 completed; episode 17 is in round 2
            Assert.Contains("episode 17 failed on two workers", failure.Message);
            Assert.Contains("injected: episode 17 always fails", failure.Message);
            Assert.Equal(1, failure.Status.Retried);

            var checkpoint = Checkpoint.Load(Path.Combine(directory, Checkpoint.FileName));
            Assert.Equal(2, checkpoint.Round);
            Assert.True(Reference.Theta(config, 2).AsSpan().SequenceEqual(checkpoint.Theta.ToBytes()));
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task AModelTooLargeForOneMessageIsRefusedUpFrontNamingTheLimitAndTheSize()
    {
        // 1 → 6000 → 6000 → 1: 36,024,001 parameters, 137.4 MiB of float32 — over the 100 MiB default body limit.
        var config = Reference.Sinusoid("maml") with { Hidden = [6000, 6000] };
        string runId = Reference.NewRunId("oversize");
        bool sent = false;
        TestFaults.Instance.For(runId, _ => sent = true);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => new ClusterTrainingClient(fixture.Client).StartAsync(runId, config));

        Assert.Contains("36,024,001 parameters", error.Message);
        Assert.Contains("137.4 MiB", error.Message);
        Assert.Contains("message body limit of 100.0 MiB", error.Message);
        Assert.False(sent);
        Assert.Equal(RunState.NotStarted, (await new ClusterTrainingClient(fixture.Client).GetStatusAsync(runId)).State);
    }

    [Fact]
    public async Task AWorkerThatMissesItsDeadlineHasItsEpisodesComputedElsewhereAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("late");
        string? stalled = null;
        TestFaults.Instance.For(runId, work =>
        {
            // The first worker to start round 1 stalls far past the run's 1.5 s deadline (a hung worker, not a dead one).
            if (work.Round == 1 && Interlocked.CompareExchange(ref stalled, work.Worker, null) is null) Thread.Sleep(TimeSpan.FromSeconds(4));
        });
        var options = new ClusterRunOptions(WorkerDeadlineBase: TimeSpan.FromSeconds(1.5), WorkerDeadlinePerEpisode: TimeSpan.Zero);

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, options, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.True(result.Status.Redispatched > 0);
        Assert.Equal(0, result.Status.Retried);
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
    }

    [Fact]
    public async Task AShareWhoseSummedPassFailsIsRedoneEpisodeByEpisodeCountedAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml") with { Seed = 4242 };
        string runId = Reference.NewRunId("fallback");
        TestContributions.Instance.FailSummedPass(config.Seed, "injected: the summed pass fails");
        long fallbacks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MetaClusterMetrics.MeterName && instrument.Name == "metacluster.presum_fallbacks") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "run_id" && tag.Value as string == runId) Interlocked.Add(ref fallbacks, value);
        });
        listener.Start();

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, new ClusterRunOptions(MaxWorkers: 2),
            new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(0, result.Status.Retried + result.Status.Redispatched);
        Assert.Equal(3 * 2, Interlocked.Read(ref fallbacks)); // every share of the 3 rounds, on each of the 2 workers
        var warnings = TestLog.Instance.Entries.Where(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains($"Run {runId} round ")).ToArray();
        Assert.Equal(3 * 2, warnings.Length);
        Assert.All(warnings, w => Assert.Contains("failed (InvalidOperationException: injected: the summed pass fails); computing it episode by episode", w.Message));
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
    }

    [Fact]
    public async Task ASummedPassThatFailsAfterAddingIntoTheHubsSumKeepsWhatWentInRedoesTheRestAndTheRunKeepsItsBits()
    {
        // Per-silo dispatch: the slots add straight into their hub's sum; this pass adds one episode, then throws.
        var config = Reference.Sinusoid("maml") with { Seed = 4343 };
        string runId = Reference.NewRunId("hub-fallback");
        TestContributions.Instance.FailSummedPassAfterOne(config.Seed, "injected: the summed pass fails after one episode");

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, new ClusterRunOptions(PerSiloDispatch: true),
            new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(0, result.Status.Retried + result.Status.Redispatched); // every episode counted once, none lost
        var warnings = TestLog.Instance.Entries.Where(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains($"Run {runId} round ")).ToArray();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w => Assert.Contains("injected: the summed pass fails after one episode", w.Message));
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values), "an episode added before the failure was lost or counted twice");
    }
}
