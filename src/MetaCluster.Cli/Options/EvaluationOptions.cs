using System.CommandLine;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Options;

/// <summary>Options shared by the verbs that print a result or evaluate θ.</summary>
public static class EvaluationOptions
{
    public const ulong DefaultEvalSeed = 12345;
    public const int DefaultEpisodes = 600;

    public static Option<bool> Json() => new("--json")
    {
        Description = "print one JSON line on stdout instead of tables (progress, if any, goes to stderr)",
        Arity = ArgumentArity.Zero,
    };

    public static Option<string> Checkpoint(string description) =>
        new("--checkpoint") { Description = description, HelpName = "FILE", Required = true };

    public static Option<int?> Threads() =>
        new("--threads") { Description = "libtorch threads (default: the run's)", HelpName = "N" };

    public static Option<ulong> EvalSeed() => new("--eval-seed")
    {
        Description = "seed of the held-out evaluation episodes (fixed, so runs are compared on the same tasks)",
        HelpName = "SEED",
        DefaultValueFactory = _ => DefaultEvalSeed,
    };

    public static Option<double?> InnerLr() => new("--inner-lr")
    {
        Description = "inner-loop learning rate to adapt with (default: the run's training rate); a smaller one when tasks diverge",
        HelpName = "LR",
    };

    /// <summary>
    /// The config to adapt with: <paramref name="innerLr"/> replaces the training rate. Meta-SGD adapts with the rates it
    /// learned (part of θ) and prototypical networks do not adapt by gradient steps, so neither takes one.
    /// </summary>
    public static TrainingConfig WithInnerLr(TrainingConfig config, double? innerLr)
    {
        if (innerLr is not { } lr) return config;
        if (!(lr > 0) || !double.IsFinite(lr)) throw new ArgumentException($"--inner-lr must be a positive number (got {lr}).");
        if (AdaptationRate(config) is null)
            throw new ArgumentException(config.Algorithm == "metasgd" || config.LearnedInnerLr
                ? $"--inner-lr does not apply to {(config.LearnedInnerLr ? "a run with --learned-inner-lr (MAML++)" : "metasgd")}: it adapts with the rates it learned, which are part of θ."
                : $"--inner-lr does not apply to {config.Algorithm}: it does not adapt by gradient steps.");
        return config with { InnerLr = lr };
    }

    /// <summary>The inner learning rate adaptation uses, or null where the config's rate is not what adapts θ.</summary>
    public static double? AdaptationRate(TrainingConfig config) => config.Algorithm is "metasgd" or "protonet"
        or "matchingnet" or "metanet" or "mann" or "lstm-meta" || config.LearnedInnerLr ? null : config.InnerLr;
}
