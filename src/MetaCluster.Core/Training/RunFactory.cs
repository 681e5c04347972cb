using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Runtime;

namespace MetaCluster.Core.Training;

/// <summary>Resolves a <see cref="TrainingConfig"/> into a <see cref="TrainingRun"/>: data, model, algorithm.</summary>
public static class RunFactory
{
    /// <summary>
    /// The model and algorithm of a config, without reading any data (what a coordinator needs). The algorithm
    /// computes on <paramref name="device"/> (the CPU when null): the process's device, not part of the config.
    /// </summary>
    public static RunBlueprint CreateBlueprint(TrainingConfig config, ComputeDevice? device = null)
    {
        config.Validate();
        config = ResolvePretrainClasses(config);
        var spec = new EpisodeSpec(config.Ways, config.Shots, config.Queries);
        spec.Validate();
        IFunctionalModel model = config.Algorithm == "mann" ? MannFor(config) : config.Dataset switch
        {
            "sinusoid" => new Mlp([1, .. config.Hidden, 1]),
            "sine-sequence" => new LstmSequenceModel(1, config.Hidden[0], 1),
            "omniglot" => new Conv4(config.Ways, filters: FiltersOf(config), headInit: HeadInitOf(config), downsampling: DownsamplingOf(config)),
            "folder" => new Conv4(config.Ways, filters: FiltersOf(config), imageSize: new ImageFolderOptions().Height, headInit: HeadInitOf(config),
                downsampling: DownsamplingOf(config)),
            "mini-imagenet" => new Conv4(config.Ways, inChannels: MiniImageNetImages.Channels, filters: FiltersOf(config),
                imageSize: new MiniImageNetOptions().ImageSize, headInit: HeadInitOf(config), downsampling: DownsamplingOf(config)),
            _ => throw new ArgumentException($"unknown dataset '{config.Dataset}'; use sinusoid, sine-sequence, omniglot, mini-imagenet or folder."),
        };
        var blueprint = new RunBlueprint(config, model, TrainingRun.CreateAlgorithm(config, model, device), spec);
        blueprint.Algorithm.Validate(blueprint.TaskKind);
        return blueprint;
    }

    /// <summary>Model, algorithm and data: everything a trainer or worker computing contributions needs.</summary>
    public static TrainingRun Create(TrainingConfig config, ComputeDevice? device = null) => WithData(CreateBlueprint(config, device));

    /// <summary>Loads the data of <paramref name="blueprint"/>'s config.</summary>
    public static TrainingRun WithData(RunBlueprint blueprint) => WithData(blueprint, LoadData(blueprint.Config));

    /// <summary>The blueprint with data already loaded (a worker process shares one load among its slots and runs).</summary>
    public static TrainingRun WithData(RunBlueprint blueprint, RunData data)
    {
        blueprint.Algorithm.Validate(data.Train.Kind);
        var spec = blueprint.Spec;
        data.Train.Validate(spec);
        data.Test.Validate(spec);
        data.Validation?.Validate(spec);
        var train = data.Train;
        if (blueprint.Algorithm is Algorithms.Pretrain pretrain)
            train = PretrainBatches(data.Train, pretrain.Classes, spec);
        return new TrainingRun(blueprint.Config, blueprint.Model, blueprint.Algorithm, spec, train, data.Validation, data.Test) { DataDescription = data.Description };
    }

    /// <summary>The episode sources a config names; they depend only on <see cref="RunData.KeyOf"/> of the config.</summary>
    public static RunData LoadData(TrainingConfig config)
    {
        string? dataDescription = null;
        IEpisodeSource train, test;
        IEpisodeSource? validation = null;
        switch (config.Dataset)
        {
            case "sinusoid":
                train = test = new SinusoidSource();
                break;
            case "sine-sequence":
                train = test = new SineSequenceSource();
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
                dataDescription = omniglot.Describe();
                break;
            }
            case "mini-imagenet":
            {
                var mini = MiniImageNetDataset.Load(RequireDataDir(config), new MiniImageNetOptions
                {
                    SplitCsvDirectory = config.SplitCsvDir,
                    Rotate = config.Rotate,
                });
                (train, validation, test) = (mini.Train, mini.Validation, mini.Test);
                dataDescription = mini.Describe();
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
                break;
            }
            default:
                throw new ArgumentException($"unknown dataset '{config.Dataset}'; use sinusoid, omniglot, mini-imagenet or folder.");
        }
        return new RunData(train, validation, test, dataDescription ?? train.Name);
    }

    /// <summary>
    /// A pretrain config with its classifier's class count: every training class, counted from the data when the
    /// config says 0. The CLI resolves it before a run starts, so a cluster's coordinator never needs the data.
    /// </summary>
    public static TrainingConfig ResolvePretrainClasses(TrainingConfig config)
    {
        if (config.Algorithm != "pretrain" || config.PretrainClasses > 0) return config;
        var train = LoadData(config).Train;
        return config with { PretrainClasses = (train as ClassEpisodeSource)?.ClassCount ?? 0 };
    }

    /// <summary>The training classes as class batches, checked against the classifier the config was resolved for.</summary>
    private static ClassBatchSource PretrainBatches(IEpisodeSource train, int classes, EpisodeSpec spec)
    {
        if (train is not ClassEpisodeSource source)
            throw new ArgumentException($"pretrain trains on a dataset of image classes (omniglot or folder), not {train.Name}.");
        if (source.ClassCount != classes)
            throw new ArgumentException($"this pretrain run's classifier has {classes} classes but {source.Name} has {source.ClassCount}; " +
                "the training data changed since the run was configured: use the data it was trained on, or start a new run.");
        var batches = new ClassBatchSource(source);
        batches.Validate(spec);
        return batches;
    }

    /// <summary>The MANN for a config's images (flattened 28×28 for omniglot and folder) with a controller of --hidden's first width.</summary>
    private static MannNetwork MannFor(TrainingConfig config) => config.Dataset switch
    {
        "omniglot" => new MannNetwork(28 * 28, config.Ways, config.Hidden[0]),
        "folder" => new MannNetwork(new ImageFolderOptions().Height * new ImageFolderOptions().Width, config.Ways, config.Hidden[0]),
        _ => throw new ArgumentException($"mann classifies images presented in a sequence: use --dataset omniglot or folder (got {config.Dataset})."),
    };

    /// <summary>The config's Conv4 width; 0 keeps Conv4's default of 64, so configs that predate the setting build the same model.</summary>
    private static int FiltersOf(TrainingConfig config) => config.Filters > 0 ? config.Filters : 64;

    private static HeadInit HeadInitOf(TrainingConfig config) => config.HeadInit == "zeros" ? HeadInit.Zeros : HeadInit.Normal;

    private static Downsampling DownsamplingOf(TrainingConfig config) => config.ConvDownsample == "stride" ? Downsampling.StridedConv : Downsampling.MaxPool;

    private static string RequireDataDir(TrainingConfig config) => config.DataDir ??
        throw new ArgumentException($"--dataset {config.Dataset} needs --data DIR: " + config.Dataset switch
        {
            "omniglot" => "the folder holding images_background.zip and images_evaluation.zip (github.com/brendenlake/omniglot, python/).",
            "mini-imagenet" => "the folder holding images/ and train.csv, val.csv, test.csv. " + MiniImageNetDataset.DownloadHint,
            _ => "a folder with one sub-folder of images per class (or train/ and test/ folders of such sub-folders).",
        });
}
