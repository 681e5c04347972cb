using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class EvaluatorTests
{
    private static EvaluationReport Summarize(params EpisodeScore[] scores) => Evaluator.Summarize(scores, steps: 10, BatchNormMode.Transductive);

    [Fact]
    public void DivergedTasksAreCountedAndLeftOutOfTheMean()
    {
        var report = Summarize(new(1, null), new(2, null), new(double.NaN, null), new(3, null), new(double.PositiveInfinity, null), new(6, null));
        Assert.Equal(6, report.Episodes);
        Assert.Equal(2, report.Diverged);
        Assert.Equal(4, report.Finite);
        Assert.False(report.AllDiverged);
        Assert.False(report.HasAccuracy);
        Assert.Null(report.Accuracy);
        // Finite losses 1, 2, 3, 6: mean 3; squared deviations 4 + 1 + 0 + 9 = 14, sample variance 14/3, n = 4.
        Assert.Equal(3.0, report.Loss!.Mean, 1e-12);
        Assert.Equal(1.96 * Math.Sqrt(14.0 / 3) / 2, report.Loss.Ci95, 1e-12);
    }

    [Fact]
    public void AClassificationEpisodeThatDivergedLeavesBothLossAndAccuracy()
    {
        var report = Summarize(new(0.5, 1.0), new(double.NaN, 0.2), new(1.5, 0.6), new(0.7, double.NaN), new(1.0, 0.8));
        Assert.Equal(2, report.Diverged);
        Assert.True(report.HasAccuracy);
        // Finite: losses 0.5, 1.5, 1.0 (mean 1, sample variance 0.25); accuracies 1.0, 0.6, 0.8 (mean 0.8, variance 0.04).
        Assert.Equal(1.0, report.Loss!.Mean, 1e-12);
        Assert.Equal(1.96 * 0.5 / Math.Sqrt(3), report.Loss.Ci95, 1e-12);
        Assert.Equal(0.8, report.Accuracy!.Mean, 1e-12);
        Assert.Equal(1.96 * 0.2 / Math.Sqrt(3), report.Accuracy.Ci95, 1e-12);
    }

    [Fact]
    public void WhenEveryTaskDivergedThereIsNoMean()
    {
        var regression = Summarize(new(double.NaN, null), new(double.NegativeInfinity, null));
        Assert.True(regression.AllDiverged);
        Assert.Equal(2, regression.Diverged);
        Assert.Equal(0, regression.Finite);
        Assert.Null(regression.Loss);

        var classification = Summarize(new(double.NaN, 0.2), new(double.PositiveInfinity, 0.4));
        Assert.True(classification.AllDiverged);
        Assert.True(classification.HasAccuracy);
        Assert.Null(classification.Accuracy);
    }

    [Fact]
    public void WithoutDivergenceTheReportIsThePlainMean()
    {
        var report = Summarize(new(0.25, null), new(0.75, null));
        Assert.Equal(0, report.Diverged);
        Assert.Equal(MeanCi.Of([0.25, 0.75]), report.Loss);
        Assert.Equal(0.5, report.Loss!.Mean);
        Assert.Equal(1.96 * Math.Sqrt(0.125) / Math.Sqrt(2), report.Loss.Ci95, 1e-12);
    }
}
