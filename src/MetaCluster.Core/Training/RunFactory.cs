using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>Resolves a <see cref="TrainingConfig"/> into a <see cref="TrainingRun"/>: data, model, algorithm.</summary>
public static class RunFactory
{
    public static TrainingRun Create(TrainingConfig config)
    {
        config.Validate();
        var spec = new EpisodeSpec(config.Ways, config.Shots, config.Queries);
        spec.Validate();
        IEpisodeSource train, test;
        IEpisodeSource? validation = null;
        IFunctionalModel model;
        switch (config.Dataset)
        {
            case "sinusoid":
                train = test = new SinusoidSource();
                model = new Mlp([1, .. config.Hidden, 1]);
                break;
            default:
                throw new ArgumentException($"unknown dataset '{config.Dataset}'; use sinusoid, omniglot or folder.");
        }
        var algorithm = TrainingRun.CreateAlgorithm(config, model);
        algorithm.Validate(train.Kind);
        train.Validate(spec);
        test.Validate(spec);
        validation?.Validate(spec);
        return new TrainingRun(config, model, algorithm, spec, train, validation, test);
    }
}
