using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Evaluation;

/// <summary>One evaluation setting and its result. <see cref="BatchNorm"/> is null when the model has no batch norm.</summary>
public sealed record EvaluationResult(int Steps, BatchNormMode? BatchNorm, EvaluationReport Report)
{
    public string BatchNormLabel => BatchNormName(BatchNorm);

    public static string BatchNormName(BatchNormMode? mode) => mode switch
    {
        BatchNormMode.Transductive => "transductive",
        BatchNormMode.NonTransductive => "non-transductive",
        _ => "none",
    };
}

/// <summary>
/// The standard held-out evaluation of a run: for regression the query MSE after 0, 1 and S inner steps; for
/// classification the query accuracy after S steps in each requested batch-norm setting (one, "none", when the
/// model normalises nothing with batch statistics).
/// </summary>
public static class HeldOutEvaluation
{
    public static readonly BatchNormMode[] BothModes = [BatchNormMode.Transductive, BatchNormMode.NonTransductive];

    public static IReadOnlyList<EvaluationResult> Run(TrainingRun run, ParameterSet theta, int episodes, ulong seed, int steps,
        IReadOnlyList<BatchNormMode> modes, IReadOnlyList<int>? regressionSteps = null)
    {
        if (episodes < 1) throw new ArgumentException($"evaluation needs at least one episode (got {episodes}); use --no-eval to skip it.");
        if (steps < 0) throw new ArgumentException($"evaluation steps must be 0 or more (got {steps}).");
        var results = new List<EvaluationResult>();
        if (!run.Config.IsClassification)
        {
            foreach (int s in (regressionSteps ?? [0, 1, steps]).Distinct().Order())
                results.Add(new EvaluationResult(s, null, Evaluate(run, theta, episodes, seed, s, BatchNormMode.Transductive)));
            return results;
        }
        if (!run.Model.UsesBatchStatistics)
        {
            results.Add(new EvaluationResult(steps, null, Evaluate(run, theta, episodes, seed, steps, BatchNormMode.Transductive)));
            return results;
        }
        foreach (var mode in modes)
            results.Add(new EvaluationResult(steps, mode, Evaluate(run, theta, episodes, seed, steps, mode)));
        return results;
    }

    public static EvaluationReport Evaluate(TrainingRun run, ParameterSet theta, int episodes, ulong seed, int steps, BatchNormMode mode) =>
        Evaluator.Evaluate(run.Algorithm, theta, run.EvaluationStream(seed), episodes, steps, mode);
}
