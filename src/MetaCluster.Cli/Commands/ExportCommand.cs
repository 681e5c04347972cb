using System.CommandLine;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Core.Runtime;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster export</c>: a checkpoint's θ — <c>train</c>'s or <c>federated simulate</c>'s — as a PyTorch state_dict
/// (<c>.pt</c>, read by <c>torch.load</c>) or a safetensors file, so a meta-trained initialisation can be fine-tuned or
/// served in PyTorch (docs/commands.md shows the matching module).
/// </summary>
public sealed class ExportCommand
{
    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("the checkpoint file (train's …/checkpoint.mcc or federated simulate's …/federated.mcc)");
    private readonly Option<string> _out = new("--out")
    {
        Description = "the file to write: .pt or .pth (torch.load) or .safetensors",
        HelpName = "FILE",
        Required = true,
    };
    private readonly Option<bool> _overwrite = new("--overwrite") { Description = "replace --out if it exists", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _json = EvaluationOptions.Json();

    public Command Build()
    {
        var command = new Command("export", "Write a checkpoint's θ as a PyTorch state_dict (.pt) or safetensors file: one float32 tensor a parameter, by name.")
        {
            _checkpoint, _out, _overwrite, _json,
        };
        command.SetAction(Execute);
        return command;
    }

    private int Execute(ParseResult result)
    {
        string path = Path.GetFullPath(result.GetValue(_checkpoint)!);
        string target = Path.GetFullPath(result.GetValue(_out)!);
        var format = ThetaExport.FormatOf(target); // a wrong extension is refused before anything is read
        if (File.Exists(target) && !result.GetValue(_overwrite))
            throw new ArgumentException($"{target} already exists; pass --overwrite to replace it, or give another --out.");
        var (theta, round, model) = Read(path);
        TorchStartup.Initialize(1, ComputeDevice.Cpu);
        ThetaExport.Write(theta, target);

        var layout = theta.Layout;
        string formatName = format == ThetaExport.Format.PyTorch ? "pytorch" : "safetensors";
        if (result.GetValue(_json))
        {
            JsonReport.Write(new JsonObject
            {
                ["command"] = "export",
                ["checkpoint"] = path,
                ["out"] = target,
                ["format"] = formatName,
                ["round"] = round,
                ["model"] = model,
                ["parameters"] = layout.TotalCount,
                ["tensors"] = new JsonArray(layout.Parameters.Select(p => (JsonNode)new JsonObject
                {
                    ["name"] = p.Name,
                    ["shape"] = new JsonArray(p.Shape.Select(d => (JsonNode)d).ToArray()),
                }).ToArray()),
                ["theta_sha256"] = theta.Sha256(),
                ["torch"] = TorchStartup.Version,
            });
            return 0;
        }
        Terminal.Out.MarkupLine($"wrote θ of [bold]{Markup.Escape(path)}[/] (round {round}, {Markup.Escape(model)})");
        Terminal.Out.MarkupLine($"to [bold]{Markup.Escape(target)}[/] ({formatName}): {layout.Count} tensors, {layout.TotalCount:N0} parameters");
        Terminal.Out.MarkupLine(Markup.Escape(layout.Describe()));
        return 0;
    }

    /// <summary>θ, its round and what trained it, from either kind of checkpoint (told apart by the file's marker).</summary>
    private static (ParameterSet Theta, long Round, string Model) Read(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"no checkpoint at {path}; pass the {Checkpoint.FileName} of 'metacluster train' or the {FederatedCheckpoint.FileName} of 'metacluster federated simulate'.");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().StartsWith("METAFEDC"u8))
        {
            var federated = FederatedCheckpoint.FromBytes(bytes, path);
            return (federated.Theta, federated.Round, $"federated {federated.Config.Dataset} / {federated.Config.Algorithm}");
        }
        var checkpoint = Checkpoint.FromBytes(bytes, path);
        return (checkpoint.Theta, checkpoint.Round, $"{checkpoint.Config.Dataset} / {checkpoint.Config.Algorithm}");
    }
}
