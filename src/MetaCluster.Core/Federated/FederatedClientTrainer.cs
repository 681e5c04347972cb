using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Federated;

/// <summary>
/// One client's trainer — the same class in a simulated client and in a real client process. Its episodes in a round
/// come from (run seed, round, client id) only (<see cref="ClientSeeds"/>): local episode e of round r is
/// Sample(spec, e, DeriveSeed(ForRound(seed, r, id), e)). Its weight is its example count (for sinusoid clients, whose
/// data is unbounded, the examples it trained on this round).
/// </summary>
public sealed class FederatedClientTrainer : IClientTrainer
{
    private readonly FederatedAlgorithm _algorithm;
    private readonly FederatedClientData _data;
    private readonly EpisodeSpec _spec;
    private readonly long[] _episodes;

    public FederatedClientTrainer(FederatedAlgorithm algorithm, FederatedClientData data)
    {
        _algorithm = algorithm;
        _data = data;
        _spec = algorithm.Spec;
        _data.Source.Validate(_spec);
        _episodes = Enumerable.Range(0, algorithm.Config.LocalEpisodes).Select(e => (long)e).ToArray();
        long perRound = (long)algorithm.Config.LocalEpisodes * _spec.Ways * (_spec.Shots + _spec.Queries);
        Weight = Math.Clamp(data.Examples > 0 ? data.Examples : perRound, 1, Training.ExactSum.MaxWeight - 1);
    }

    public string ClientId => _data.Id;

    /// <summary>The weight this client's updates carry under "examples" weighting.</summary>
    public long Weight { get; }

    /// <summary>Local episode <paramref name="episode"/> of <paramref name="round"/>, as this client draws it.</summary>
    public Episode SampleEpisode(long round, long episode) =>
        _data.Source.Sample(_spec, episode, DeterministicRandom.DeriveSeed(ClientSeeds.ForRound(_algorithm.Config.Seed, round, ClientId), episode));

    public ClientUpdate Compute(ParameterSet theta, long round)
    {
        var result = _algorithm.Compute(theta, _episodes, e => SampleEpisode(round, e));
        return new ClientUpdate(ClientId, round, result.Update, Weight, result.Metrics);
    }
}
