using System.CommandLine;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli;

/// <summary>A solver setting given on the command line: the flag, the setting it sets, and the value.</summary>
internal sealed record SolverSettingValue(string Flag, string Setting, object Value);

/// <summary>
/// The solver settings as flags of <c>dk sample</c> and <c>dk study</c>, one per setting some registered sampler takes,
/// named after it (<c>s_churn</c> → <c>--s-churn</c>) and described by it. A flag for a sampler that does not take its
/// setting is an error, and so is a value the solver refuses; both name the flag.
/// </summary>
internal sealed class SolverSettingOptions
{
    private readonly List<(Option Option, string Setting, Func<ParseResult, object?> Read)> _flags = [];

    public SolverSettingOptions()
    {
        foreach (var name in SamplerRegistry.SettingNames)
        {
            var setting = SamplerRegistry.Setting(name)!;
            string flag = "--" + name.Replace('_', '-');
            string description = $"{setting.Label}: {setting.Description} [{string.Join(", ", SamplerRegistry.Taking(name))}]";
            var type = Nullable.GetUnderlyingType(setting.ValueType) ?? setting.ValueType;
            if (type == typeof(double)) Add<double>(flag, name, description);
            else if (type == typeof(int)) Add<int>(flag, name, description);
            else if (type == typeof(bool)) Add<bool>(flag, name, description);
            else throw new InvalidOperationException($"solver setting {name} has a {type.Name} value, which has no command-line form");
        }
    }

    /// <summary>The flags, to add to a command.</summary>
    public IEnumerable<Option> Options => _flags.Select(f => f.Option);

    /// <summary>The flags given on the command line, in declaration order.</summary>
    public IReadOnlyList<SolverSettingValue> Given(ParseResult result) =>
        [.. _flags.Select(f => (f, Value: f.Read(result))).Where(p => p.Value is not null).Select(p => new SolverSettingValue(p.f.Option.Name, p.f.Setting, p.Value!))];

    /// <summary><paramref name="solver"/> with the given settings; an error naming the flag when it does not take one or refuses its value.</summary>
    public static Solver Apply(Solver solver, IEnumerable<SolverSettingValue> given)
    {
        foreach (var g in given)
        {
            if (!solver.Takes(g.Setting))
                throw new ArgumentException($"{g.Flag}: sampler '{solver.Name}' does not take {SamplerRegistry.Setting(g.Setting)?.Label ?? g.Setting}; samplers that do: {string.Join(", ", SamplerRegistry.Taking(g.Setting))}");
            solver = With(solver, g);
        }
        return solver;
    }

    /// <summary>
    /// Each of <paramref name="solvers"/> with the given settings it takes (a study compares several samplers); an error
    /// naming the flag when none of them takes one, or one refuses its value.
    /// </summary>
    public static List<Solver> ApplyWhereTaken(IReadOnlyList<Solver> solvers, IReadOnlyList<SolverSettingValue> given)
    {
        foreach (var g in given.Where(g => !solvers.Any(s => s.Takes(g.Setting))))
            throw new ArgumentException($"{g.Flag}: none of the samplers {string.Join(", ", solvers.Select(s => s.Name))} takes {SamplerRegistry.Setting(g.Setting)?.Label ?? g.Setting}; samplers that do: {string.Join(", ", SamplerRegistry.Taking(g.Setting))}");
        return [.. solvers.Select(s => given.Where(g => s.Takes(g.Setting)).Aggregate(s, With))];
    }

    private static Solver With(Solver solver, SolverSettingValue g)
    {
        try
        {
            return solver.With(g.Setting, g.Value);
        }
        catch (SolverSettingException e)
        {
            throw new ArgumentException($"{g.Flag} {e.Problem} (sampler '{solver.Name}')", e);
        }
    }

    private void Add<T>(string flag, string setting, string description) where T : struct
    {
        var option = new Option<T?>(flag) { Description = description };
        _flags.Add((option, setting, r => r.GetValue(option)));
    }
}
