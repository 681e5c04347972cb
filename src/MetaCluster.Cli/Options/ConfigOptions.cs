using System.CommandLine;
using System.Text.Json;

namespace MetaCluster.Cli.Options;

/// <summary>
/// Command-line options bound to the fields of a run's config record (<see cref="RunOptions"/> for training,
/// <see cref="FederatedOptions"/> for federations): each option given on the command line is applied, in the order
/// bound, to the published defaults — nothing else changes them — and on resume an option that would change the
/// checkpoint's config is an error naming it, unless it is one the run may change.
/// </summary>
/// <param name="changeableOnResume">options a resumed run may change (they do not alter the rounds already taken).</param>
/// <param name="startElsewhere">where the resume error sends a user who wants the new values ("in another --checkpoint-dir").</param>
public abstract class ConfigOptions<TConfig>(IReadOnlyList<string> changeableOnResume, string startElsewhere)
{
    private readonly List<Binding> _bindings = [];

    public static bool WasGiven(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>Adds every bound option to <paramref name="command"/>, in the order bound.</summary>
    protected void AddBoundOptions(Command command)
    {
        foreach (var binding in _bindings) command.Add(binding.Option);
    }

    /// <summary>Applies the options that were given (and only those, and of those only the <paramref name="include"/>d) to <paramref name="config"/>.</summary>
    public TConfig Apply(ParseResult result, TConfig config, Func<string, bool>? include = null)
    {
        foreach (var binding in _bindings)
            if (WasGiven(result, binding.Option) && (include is null || include(binding.Option.Name)))
                config = binding.Apply(result, config);
        return config;
    }

    /// <summary>
    /// A resumed run keeps its checkpoint's config: an explicit option that would change it is an error, except the
    /// few in the changeable list, which are applied.
    /// </summary>
    public TConfig ForResume(ParseResult result, TConfig saved)
    {
        var conflicts = new List<string>();
        foreach (var binding in _bindings)
        {
            if (!WasGiven(result, binding.Option) || changeableOnResume.Contains(binding.Option.Name)) continue;
            string wanted = JsonSerializer.Serialize(binding.Wanted(result, saved));
            string stored = JsonSerializer.Serialize(binding.Read(saved));
            if (wanted != stored) conflicts.Add($"{binding.Option.Name} {wanted} (checkpoint: {stored})");
        }
        if (conflicts.Count > 0)
            throw new ArgumentException(
                $"--resume continues the checkpoint's run with its own config, but these options differ from it: {string.Join("; ", conflicts)}. " +
                $"Drop them, or start a new run {startElsewhere}. Only {string.Join(", ", changeableOnResume)} may change on resume.");
        return Apply(result, saved, changeableOnResume.Contains);
    }

    /// <summary>Binds <paramref name="option"/>: <paramref name="apply"/> sets its value, <paramref name="read"/> reads back what it sets (for the resume check).</summary>
    protected Option<T> Bind<T>(Option<T> option, Func<TConfig, T?, TConfig> apply, Func<TConfig, object?> read)
    {
        _bindings.Add(new Binding(option, (r, c) => apply(c, r.GetValue(option)), read, (r, saved) => read(apply(saved, r.GetValue(option)))));
        return option;
    }

    /// <summary>
    /// Binds an option that picks the defaults rather than setting a field (a federation's dataset and algorithm): it
    /// applies nothing, and on resume its value itself is compared with <paramref name="read"/>'s.
    /// </summary>
    protected Option<T> BindChoosing<T>(Option<T> option, Func<TConfig, object?> read)
    {
        _bindings.Add(new Binding(option, (_, c) => c, read, (r, _) => r.GetValue(option)));
        return option;
    }

    protected static Option<string> Choice(string name, string description, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join('|', values) };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    protected static Option<bool> Flag(string name, string description) => new(name) { Description = description, Arity = ArgumentArity.Zero };

    protected static Option<T?> Number<T>(string name, string helpName, string description) where T : struct =>
        new(name) { Description = description, HelpName = helpName };

    /// <param name="Wanted">the value the option asks for, compared on resume with <paramref name="Read"/> of the checkpoint's config.</param>
    private sealed record Binding(Option Option, Func<ParseResult, TConfig, TConfig> Apply, Func<TConfig, object?> Read,
        Func<ParseResult, TConfig, object?> Wanted);
}
