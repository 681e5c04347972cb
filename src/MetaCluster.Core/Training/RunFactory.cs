using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>Resolves a <see cref="TrainingConfig"/> into a <see cref="TrainingRun"/>: data, model, algorithm.</summary>
public static class RunFactory
{
    public static TrainingRun Create(TrainingConfig config)
    {
        string? DataDescription = null;
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
            case "omniglot":
            {
                var omniglot = OmniglotDataset.Load(RequireDataDir(config), new OmniglotOptions
                {
                    Split = config.Split == "lake" ? OmniglotSplit.Lake : OmniglotSplit.Maml,
                    Rotate = config.Rotate,
                    ValidationCharacters = config.ValidationClasses,
                });
                (train, validation, test) = (omniglot.Train, omniglot.Validation, omniglot.Test);
                DataDescription = omniglot.Describe();
                model = new Conv4(config.Ways, headInit: HeadInitOf(config));
                break;
            }
            case "folder":
            {
                // DIR/train and DIR/test when both exist; otherwise every class of DIR serves training and evaluation.
                string dir = RequireDataDir(config);
                var options = new ImageFolderOptions { Rotate = config.Rotate };
                string trainDir = Path.Combine(dir, "train"), testDir = Path.Combine(dir, "test");
                bool split = Directory.Exists(trainDir) && Directory.Exists(testDir);
                train = ImageFolder.OpenSource(split ? trainDir : dir, options);
                test = split ? ImageFolder.OpenSource(testDir, options) : train;
                model = new Conv4(config.Ways, imageSize: options.Height, headInit: HeadInitOf(config));
                break;
            }
            default:
                throw new ArgumentException($"unknown dataset '{config.Dataset}'; use sinusoid, omniglot or folder.");
        }
        DataDescription ??= train.Name;
        var algorithm = TrainingRun.CreateAlgorithm(config, model);
        algorithm.Validate(train.Kind);
        train.Validate(spec);
        test.Validate(spec);
        validation?.Validate(spec);
        return new TrainingRun(config, model, algorithm, spec, train, validation, test) { DataDescription = DataDescription };
    }

    private static HeadInit HeadInitOf(TrainingConfig config) => config.HeadInit == "zeros" ? HeadInit.Zeros : HeadInit.Normal;

    private static string RequireDataDir(TrainingConfig config) => config.DataDir ??
        throw new ArgumentException($"--dataset {config.Dataset} needs --data DIR: " + (config.Dataset == "omniglot"
            ? "the folder holding images_background.zip and images_evaluation.zip (github.com/brendenlake/omniglot, python/)."
            : "a folder with one sub-folder of images per class (or train/ and test/ folders of such sub-folders)."));
}
