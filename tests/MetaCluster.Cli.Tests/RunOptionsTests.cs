using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Tests;

public class RunOptionsTests
{
    private static (RunOptions Options, ParseResult Result) Parse(string arguments)
    {
        var options = new RunOptions();
        var command = new RootCommand();
        options.AddTo(command);
        return (options, command.Parse(arguments));
    }

    [Fact]
    public void NothingGivenMeansThePublishedDefaults()
    {
        var (options, result) = Parse("");
        var config = options.ToConfig(result);
        var defaults = TrainingConfig.ForDataset("sinusoid", "maml");
        Assert.Equal(defaults with { Hidden = config.Hidden }, config);
        Assert.Equal(defaults.Hidden, config.Hidden);
    }

    [Fact]
    public void GivenOptionsOverrideOnlyThemselves()
    {
        var (options, result) = Parse("--algorithm reptile --inner-lr 0.02 --seed 9 --hidden 64,32,16 --outer-lr-final none");
        Assert.Empty(result.Errors);
        var config = options.ToConfig(result);
        var reptile = TrainingConfig.ForDataset("sinusoid", "reptile");
        Assert.Equal(0.02, config.InnerLr);
        Assert.Equal(9UL, config.Seed);
        Assert.Equal([64, 32, 16], config.Hidden);
        Assert.Null(config.OuterLrFinal);
        Assert.Equal(reptile.InnerSteps, config.InnerSteps);
        Assert.Equal(reptile.OuterLr, config.OuterLr);
        Assert.Equal(reptile.OuterOptimizer, config.OuterOptimizer);
    }

    [Fact]
    public void MamlPlusPlusSetsThePaperSetupAndOptionsGivenWithItOverrideIt()
    {
        var (options, result) = Parse("--dataset omniglot --maml++ --inner-steps 3 --msl-iterations 100 --outer-lr-min 0.0001");
        Assert.Empty(result.Errors);
        var config = options.ToConfig(result);
        var preset = TrainingConfig.ForDataset("omniglot", "maml").WithMamlPlusPlus();
        Assert.Equal(preset with { InnerSteps = 3, MslIterations = 100, OuterLrMin = 0.0001, Hidden = config.Hidden }, config);
        Assert.True(config.PerStepBn && config.LearnedInnerLr && config.CosineOuterLr && config.MultiStepLoss);

        // Each option alone, without the preset's other settings.
        (options, result) = Parse("--dataset omniglot --per-step-bn --inner-steps 2");
        config = options.ToConfig(result);
        Assert.True(config.PerStepBn);
        Assert.False(config.MultiStepLoss || config.LearnedInnerLr || config.CosineOuterLr);
        Assert.Equal((0, 32), (config.DerivativeOrderAnnealing, config.MetaBatch));
        (options, result) = Parse("--derivative-order-annealing 50 --cosine-outer-lr --learned-inner-lr --multi-step-loss");
        config = options.ToConfig(result);
        Assert.Equal(50, config.DerivativeOrderAnnealing);
        Assert.True(config.CosineOuterLr && config.LearnedInnerLr && config.MultiStepLoss);
    }

    [Fact]
    public void DataOptionsReachTheConfig()
    {
        var (options, result) = Parse("--dataset omniglot --data /data/omniglot --split lake --no-rotate --validation-classes 100");
        var config = options.ToConfig(result);
        Assert.Equal("/data/omniglot", config.DataDir);
        Assert.Equal("lake", config.Split);
        Assert.False(config.Rotate);
        Assert.Equal(100, config.ValidationClasses);
        var (omniglot, defaults) = Parse("--dataset omniglot");
        Assert.True(omniglot.ToConfig(defaults).Rotate);
    }

    [Fact]
    public void TheOmniglotNetworkOptionsReachTheConfig()
    {
        var (options, result) = Parse("--dataset omniglot --algorithm reptile --conv-downsample stride --inner-batch 10 --eval-batch 5");
        Assert.Empty(result.Errors);
        var config = options.ToConfig(result);
        Assert.Equal(("stride", 10, 5), (config.ConvDownsample, config.InnerBatch, config.EvalBatch));
        Assert.Contains("--eval-batch", RunOptions.ChangeableOnResume); // it changes the scoring, not θ
        // pool is the default and is stored as no setting at all, so a config that names it equals one that does not.
        (options, result) = Parse("--dataset omniglot --conv-downsample pool");
        config = options.ToConfig(result);
        Assert.Equal(TrainingConfig.ForDataset("omniglot", "maml") with { Hidden = config.Hidden }, config);
    }

    [Fact]
    public void TheReptileAdamStateOptionReachesTheConfig()
    {
        var (options, result) = Parse("--dataset omniglot --algorithm reptile --reptile-adam-state carried");
        Assert.Empty(result.Errors);
        Assert.Equal("carried", options.ToConfig(result).ReptileAdamState);
        // fresh is the default and is stored as no setting, so configs from before the option read back equal.
        (options, result) = Parse("--dataset omniglot --algorithm reptile --reptile-adam-state fresh");
        Assert.Null(options.ToConfig(result).ReptileAdamState);
        Assert.NotEmpty(Parse("--reptile-adam-state kept").Result.Errors);
    }

    [Theory]
    [InlineData("--rotate --no-rotate")]
    [InlineData("--algorithm foo")]
    [InlineData("--hidden 40,x")]
    [InlineData("--outer-lr-final fast")]
    [InlineData("--ways many")]
    public void BadValuesAreParseErrors(string arguments) => Assert.NotEmpty(Parse(arguments).Result.Errors);

    [Fact]
    public void ResumeRejectsOptionsThatWouldChangeTheRunButAcceptsTheChangeableOnes()
    {
        var saved = TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 100 };
        var (options, conflicting) = Parse("--inner-lr 0.5 --iterations 200");
        var error = Assert.Throws<ArgumentException>(() => options.ForResume(conflicting, saved));
        Assert.Contains("--inner-lr", error.Message);
        Assert.DoesNotContain("--iterations", error.Message.Split("Only")[0]);

        var (same, compatible) = Parse("--inner-lr 0.01 --iterations 200 --threads 2");
        var resumed = same.ForResume(compatible, saved);
        Assert.Equal(saved with { Iterations = 200, Threads = 2, Hidden = resumed.Hidden }, resumed);
    }
}
