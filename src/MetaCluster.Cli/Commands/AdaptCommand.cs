using System.CommandLine;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster adapt</c>: the end use of a meta-trained initialization. Fine-tunes θ on a few labelled examples of
/// the user's own classes (the support folder, one sub-folder per class) and predicts the class of each query image.
/// </summary>
public sealed class AdaptCommand
{
    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("a classifier's checkpoint (…/checkpoint.mcc)");
    private readonly Option<string> _support = new("--support")
    {
        Description = "labelled examples: one sub-folder per class (the folder name is the class), a few images each",
        HelpName = "DIR",
        Required = true,
    };
    private readonly Option<string> _query = new("--query")
    {
        Description = "images to classify; images in sub-folders named like a class count as that class (and give an accuracy)",
        HelpName = "DIR",
        Required = true,
    };
    private readonly Option<int?> _steps = new("--steps") { Description = "inner steps on the support set (default: the run's eval steps)", HelpName = "S" };
    private readonly Option<string> _batchNorm = new("--batch-norm")
    {
        Description = "how batch norm treats the query images: each alone with the support set, or all together",
        HelpName = "non-transductive|transductive",
        DefaultValueFactory = _ => "non-transductive",
    };
    private readonly Option<double?> _innerLr = EvaluationOptions.InnerLr();
    private readonly Option<int?> _threads = EvaluationOptions.Threads();
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<Core.Runtime.ComputeDevice> _device = DeviceOption.Create();

    public Command Build()
    {
        _batchNorm.AcceptOnlyFromAmong("non-transductive", "transductive");
        var command = new Command("adapt", "Fine-tune a meta-trained classifier on a few labelled images of your classes and classify new images.");
        foreach (var option in new Option[] { _checkpoint, _support, _query, _steps, _innerLr, _batchNorm, _threads, _json, _device })
            command.Add(option);
        command.SetAction(Execute);
        return command;
    }

    private sealed record QueryImage(string File, int? Truth);

    private int Execute(ParseResult result)
    {
        string path = Path.GetFullPath(result.GetValue(_checkpoint)!);
        string supportDir = result.GetValue(_support)!, queryDir = result.GetValue(_query)!;
        var checkpoint = Checkpoint.Load(path);
        var config = checkpoint.Config;
        if (!config.IsClassification)
            throw new ArgumentException($"adapt takes an image classifier, but {path} holds a {config.Dataset} regression model ({config.Algorithm}); " +
                "train one with --dataset omniglot or --dataset folder, or score this one with 'metacluster evaluate'.");
        config = EvaluationOptions.WithInnerLr(config, result.GetValue(_innerLr));
        double? innerLr = EvaluationOptions.AdaptationRate(config);
        int steps = result.GetValue(_steps) ?? config.EvalSteps;
        if (steps < 0) throw new ArgumentException($"--steps must be 0 or more (got {steps}).");
        var mode = result.GetValue(_batchNorm) == "transductive" ? BatchNormMode.Transductive : BatchNormMode.NonTransductive;

        // Decode without inverting, then invert support and query together when the support images are mostly light
        // (dark strokes on white), as training did for its folder: the query must look like the support.
        var images = new ImageFolderOptions { Invert = InvertMode.Never };
        var support = ImageFolder.Load(supportDir, images);
        if (support.ClassCount != config.Ways)
            throw new ArgumentException($"{path} is a {config.Ways}-way classifier, but {supportDir} has {support.ClassCount} class folder(s) " +
                $"({string.Join(", ", support.ClassNames)}); give it exactly {config.Ways}, one per class.");
        var queries = QueryImages(queryDir, support.ClassNames);
        float[] queryPixels = ImageFolder.LoadImages(queries.Select(q => q.File).ToArray(), images);
        if (support.Pixels.Average() > 0.5)
        {
            for (int i = 0; i < support.Pixels.Length; i++) support.Pixels[i] = 1f - support.Pixels[i];
            for (int i = 0; i < queryPixels.Length; i++) queryPixels[i] = 1f - queryPixels[i];
        }

        var device = result.GetValue(_device)!;
        TorchStartup.Initialize(result.GetValue(_threads) ?? config.Threads, device);
        // Omniglot and folder runs train 28×28 grayscale models (RunFactory: Conv4, or the MANN); the layout check below catches any other.
        var algorithm = RunFactory.CreateBlueprint(config, device).Algorithm;
        if (!checkpoint.Theta.Layout.SameAs(algorithm.Layout))
            throw new CheckpointException($"{path} holds parameters {checkpoint.Theta.Layout.Describe()}, but {algorithm.Name} on {algorithm.Model.Name} needs {algorithm.Layout.Describe()}.");

        var labels = Enumerable.Range(0, support.ClassCount).SelectMany(c => Enumerable.Repeat((long)c, support.ImageCount(c))).ToArray();
        float[] probabilities = Classify(algorithm, checkpoint.Theta, support, labels, queryPixels, queries, steps, mode);

        // An image whose class probabilities are not finite diverged: the inner steps blew the adapted parameters up
        // (the inner rate is too large for this support set). It gets no prediction and no place in the accuracy.
        var rows = queries.Select((q, i) =>
        {
            var p = probabilities.AsSpan(i * config.Ways, config.Ways);
            bool finite = true;
            foreach (float v in p) finite &= float.IsFinite(v);
            int best = 0;
            for (int c = 1; c < p.Length; c++) if (p[c] > p[best]) best = c;
            return (Query: q, Predicted: finite ? best : (int?)null, Probabilities: p.ToArray());
        }).ToArray();
        int diverged = rows.Count(r => r.Predicted is null);
        int known = rows.Count(r => r.Query.Truth is not null && r.Predicted is not null);
        int correct = rows.Count(r => r.Predicted is not null && r.Query.Truth == r.Predicted);
        double? accuracy = known > 0 ? (double)correct / known : null;
        string Relative(string file) => Path.GetRelativePath(queryDir, file);

        if (result.GetValue(_json))
        {
            var predictions = new JsonArray();
            foreach (var r in rows)
            {
                var perClass = new JsonObject();
                for (int c = 0; c < config.Ways; c++) perClass[support.ClassNames[c]] = r.Predicted is null ? null : JsonReport.Number(r.Probabilities[c]);
                predictions.Add(new JsonObject
                {
                    ["file"] = Relative(r.Query.File),
                    ["predicted"] = r.Predicted is { } p ? support.ClassNames[p] : null,
                    ["probability"] = r.Predicted is { } q ? JsonReport.Number(r.Probabilities[q]) : null,
                    ["probabilities"] = perClass,
                    ["diverged"] = r.Predicted is null,
                    ["truth"] = r.Query.Truth is { } t ? support.ClassNames[t] : null,
                });
            }
            JsonReport.Write(new JsonObject
            {
                ["command"] = "adapt",
                ["checkpoint"] = path,
                ["theta_sha256"] = checkpoint.Theta.Sha256(),
                ["algorithm"] = config.Algorithm,
                ["classes"] = new JsonArray([.. support.ClassNames.Select(n => (JsonNode?)JsonValue.Create(n))]),
                ["support_images"] = support.TotalImages,
                ["steps"] = steps,
                ["inner_lr"] = innerLr,
                ["batch_norm"] = EvaluationResult.BatchNormName(algorithm.Model.UsesBatchStatistics ? mode : null),
                ["predictions"] = predictions,
                ["accuracy"] = JsonReport.Number(accuracy),
                ["diverged"] = diverged,
                ["torch"] = TorchStartup.Version,
            });
            return 0;
        }

        var table = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]predictions[/]")
            .Caption(Markup.Escape($"{config.Algorithm}, {config.Ways}-way, adapted {steps} step(s)" +
                (innerLr is { } rate ? FormattableString.Invariant($" at inner rate {rate}") : "") + $" on {support.TotalImages} support image(s); " +
                $"batch norm {EvaluationResult.BatchNormName(algorithm.Model.UsesBatchStatistics ? mode : null)}"));
        table.AddColumn("file");
        table.AddColumn("predicted");
        table.AddColumn(new TableColumn("probability").RightAligned());
        bool hasTruth = rows.Any(r => r.Query.Truth is not null);
        if (hasTruth) table.AddColumn("truth");
        foreach (var r in rows)
        {
            var cells = new List<string>
            {
                Markup.Escape(Relative(r.Query.File)),
                r.Predicted is { } p ? Markup.Escape(support.ClassNames[p]) : "[red]diverged[/]",
                r.Predicted is { } q ? Format.Percent(r.Probabilities[q]) : "–",
            };
            if (hasTruth)
                cells.Add(r.Query.Truth is { } t ? (t == r.Predicted ? "[green]" : "[red]") + Markup.Escape(support.ClassNames[t]) + "[/]" : "–");
            table.AddRow(cells.ToArray());
        }
        Terminal.Out.Write(table);
        if (accuracy is { } a)
            Terminal.Out.MarkupLine($"accuracy [bold]{correct}/{known}[/] ({Format.Percent(a)}) on the query images of known class" +
                (diverged > 0 ? " that did not diverge" : ""));
        if (diverged > 0)
        {
            string line = diverged == rows.Length
                ? $"adaptation diverged: no image has finite class probabilities after {steps} step(s)"
                : $"{diverged} of {rows.Length} image(s) diverged (non-finite class probabilities after {steps} step(s))";
            if (innerLr is not null) line += "; try a smaller --inner-lr";
            Terminal.Out.MarkupLine($"[red]{Markup.Escape(line)}[/]");
        }
        return 0;
    }

    /// <summary>Class probabilities (softmax of the adapted model's outputs), query after query.</summary>
    private static float[] Classify(MetaAlgorithm algorithm, ParameterSet theta, ImageClassSet support, long[] labels, float[] queryPixels,
        IReadOnlyList<QueryImage> queries, int steps, BatchNormMode mode)
    {
        using var scope = NewDisposeScope();
        long h = support.Height, w = support.Width;
        var supportX = tensor(support.Pixels.AsSpan(0, support.TotalImages * support.PixelsPerImage).ToArray(), [support.TotalImages, 1, h, w]);
        var queryX = tensor(queryPixels, [queries.Count, 1, h, w]);
        // The query labels are not used to predict; unknown ones are 0.
        var queryY = tensor(queries.Select(q => (long)(q.Truth ?? 0)).ToArray());
        using var episode = new Episode(0, TaskKind.Classification, support.ClassCount, supportX, tensor(labels), queryX, queryY)
            .MoveTo(algorithm.Device);
        var leaves = theta.ToTensors(requiresGrad: true, device: algorithm.Device);
        var adapted = algorithm.Adapt(leaves, episode, steps);
        using var _ = no_grad();
        using var output = algorithm.Predict(adapted, episode, mode);
        using var probabilities = nn.functional.softmax(output.to_type(ScalarType.Float32), 1);
        return TensorData.ToFloats(probabilities);
    }

    /// <summary>The query folder's images: those directly in it (class unknown), then each class sub-folder's.</summary>
    private static List<QueryImage> QueryImages(string directory, IReadOnlyList<string> classes)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"query folder not found: {Path.GetFullPath(directory)}.");
        var images = Directory.GetFiles(directory).Where(ImageFolder.IsImage).Order(StringComparer.Ordinal).Select(f => new QueryImage(f, null)).ToList();
        foreach (string sub in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(sub);
            int truth = classes.ToList().IndexOf(name);
            if (truth < 0)
                throw new ArgumentException($"query sub-folder '{name}' names no class of the support set ({string.Join(", ", classes)}); " +
                    "name sub-folders after support classes, or put the images directly in the query folder.");
            images.AddRange(Directory.GetFiles(sub).Where(ImageFolder.IsImage).Order(StringComparer.Ordinal).Select(f => new QueryImage(f, truth)));
        }
        if (images.Count == 0) throw new ArgumentException($"query folder {directory} has no images to classify.");
        return images;
    }
}
