using Spectre.Console;

namespace MetaCluster.Cli.Output;

/// <summary>Where output goes: tables and live progress on stdout, errors and plain progress lines on stderr.</summary>
public static class Terminal
{
    private static readonly Lazy<IAnsiConsole> ErrorConsole = new(() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));

    public static IAnsiConsole Out => AnsiConsole.Console;
    public static IAnsiConsole Error => ErrorConsole.Value;

    /// <summary>True when stdout is a terminal that can redraw a live progress bar.</summary>
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>One red "error: …" line on stderr (unwrapped and without colour codes when stderr is not a terminal).</summary>
    public static void WriteError(string message)
    {
        string line = "error: " + OneLine(message);
        if (Console.IsErrorRedirected) Console.Error.WriteLine(line);
        else Error.MarkupLine($"[red]{Markup.Escape(line)}[/]");
    }

    public static void WriteDetail(string message)
    {
        if (Console.IsErrorRedirected) Console.Error.WriteLine(message);
        else Error.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>A plain status line on stderr (no markup, safe in logs).</summary>
    public static void WriteStatus(string message) => Console.Error.WriteLine(message);
}
