using System.CommandLine;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Runtime;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster export</c>: a checkpoint's θ as a PyTorch state_dict (<c>.pt</c>, read by <c>torch.load</c>) or a
/// safetensors file, so a meta-trained initialisation can be fine-tuned or served in PyTorch (docs/commands.md shows the
/// matching module).
/// </summary>
public sealed class ExportCommand
{
    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("the checkpoint file (…/checkpoint.mcc)");
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
        var checkpoint = Checkpoint.Load(path);
        TorchStartup.Initialize(1, ComputeDevice.Cpu);
        ThetaExport.Write(checkpoint.Theta, target);

        var layout = checkpoint.Theta.Layout;
        string formatName = format == ThetaExport.Format.PyTorch ? "pytorch" : "safetensors";
        if (result.GetValue(_json))
        {
            JsonReport.Write(new JsonObject
            {
                ["command"] = "export",
                ["checkpoint"] = path,
                ["out"] = target,
                ["format"] = formatName,
                ["round"] = checkpoint.Round,
                ["model"] = $"{checkpoint.Config.Dataset} / {checkpoint.Config.Algorithm}",
                ["parameters"] = layout.TotalCount,
                ["tensors"] = new JsonArray(layout.Parameters.Select(p => (JsonNode)new JsonObject
                {
                    ["name"] = p.Name,
                    ["shape"] = new JsonArray(p.Shape.Select(d => (JsonNode)d).ToArray()),
                }).ToArray()),
                ["theta_sha256"] = checkpoint.Theta.Sha256(),
                ["torch"] = TorchStartup.Version,
            });
            return 0;
        }
        Terminal.Out.MarkupLine($"wrote θ of [bold]{Markup.Escape(path)}[/] (round {checkpoint.Round}, {checkpoint.Config.Dataset} / {checkpoint.Config.Algorithm})");
        Terminal.Out.MarkupLine($"to [bold]{Markup.Escape(target)}[/] ({formatName}): {layout.Count} tensors, {layout.TotalCount:N0} parameters");
        Terminal.Out.MarkupLine(Markup.Escape(layout.Describe()));
        return 0;
    }
}
