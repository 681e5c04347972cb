using System.CommandLine;

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
}
