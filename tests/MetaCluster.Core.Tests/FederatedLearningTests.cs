using MetaCluster.Core.Federated;

namespace MetaCluster.Core.Tests;

/// <summary>A federation really learns: new sinusoid clients, never trained on, adapt far better from the federated θ.</summary>
public sealed class FederatedLearningTests
{
    [Fact]
    public void FedMetaOnSinusoidClients_NewClientLossAfterAdaptationDropsWellBelowTheInitialThetas()
    {
        var config = FederatedConfig.ForAlgorithm("sinusoid", "fedmeta-fomaml") with
        {
            Clients = 40, EvalClients = 0.25, ClientsPerRound = 8, Rounds = 300, LocalEpisodes = 4, ServerLr = 0.01, Seed = 2,
        };
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        var trainer = new FederatedTrainer(algorithm, federation.TrainingIds,
            new SimulatedClients(FederatedClients.Cached(algorithm, federation), config));
        var initial = NewClientEvaluation.Evaluate(algorithm, trainer.Theta, federation.NewClients, 5, config.EvalSteps);
        while (!trainer.Finished) trainer.RunRound();
        var trained = NewClientEvaluation.Evaluate(algorithm, trainer.Theta, federation.NewClients, 5, config.EvalSteps);

        Assert.Equal(10, trained.Clients);
        Assert.Equal(0, trained.Diverged);
        double before = initial.Loss!.Mean, after = trained.Loss!.Mean;
        Assert.True(after < 0.4 * before, $"new-client MSE after {config.EvalSteps} steps: {before:0.000} from θ₀, {after:0.000} from the federated θ");
        // p10 is the weak tail: for regression no better than the mean client.
        Assert.True(trained.P10 >= after * 0.5 && trained.P10 > 0);
    }
}
