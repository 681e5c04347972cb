using System.Text.Json.Nodes;
using MetaCluster.Core.Federated;

namespace MetaCluster.Cli.Commands;

/// <summary>A run's participation, summed from its log: samples, answers, drops by reason, re-sampled rounds, traffic.</summary>
public sealed record FederatedParticipation(long Rounds, long Sampled, long Completed, long Late, long Failed, long Refused, long ResampledRounds, double BytesPerRound)
{
    public static FederatedParticipation Of(IReadOnlyList<ParticipationRecord> log, int parameters)
    {
        var accepted = log.Where(r => r.Accepted).ToArray();
        long Count(DropReason reason) => log.Sum(r => r.Dropped.Count(d => d.Reason == reason));
        long sampled = log.Sum(r => (long)r.Sampled.Length);
        // θ goes down to every sampled client; an update comes up from every client that answered (refused ones too).
        long answered = log.Sum(r => (long)r.Completed.Length) + Count(DropReason.Refused);
        return new FederatedParticipation(accepted.Length, sampled, accepted.Sum(r => (long)r.Completed.Length),
            Count(DropReason.Late), Count(DropReason.Failed), Count(DropReason.Refused), log.Where(r => !r.Accepted).Select(r => r.Round).Distinct().LongCount(),
            accepted.Length == 0 ? 0 : 4.0 * parameters * (sampled + answered) / accepted.Length);
    }

    public double MeanPerRound => Rounds == 0 ? 0 : (double)Completed / Rounds;

    public JsonObject ToJson() => new()
    {
        ["sampled"] = Sampled,
        ["completed"] = Completed,
        ["mean_per_round"] = Math.Round(MeanPerRound, 3),
        ["dropped"] = new JsonObject { ["late"] = Late, ["failed"] = Failed, ["refused"] = Refused },
        ["resampled_rounds"] = ResampledRounds,
    };
}
