using System.Globalization;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A setting a solver takes, by the name the papers and reference code give it (<c>eta</c>, <c>s_churn</c>,
/// <c>rtol</c>, …): what it does, its value on this solver, and a copy of the solver with another value. Code
/// configures solvers through their typed properties; front ends (the CLI, <c>dk samplers</c>) go through these.
/// </summary>
public abstract class SolverSetting
{
    private protected SolverSetting(string name, string symbol, string description)
    {
        Name = name;
        Symbol = symbol;
        Description = description;
    }

    /// <summary>The setting's name in reference code (k-diffusion, diffusers, score_sde): eta, s_churn, rtol, …</summary>
    public string Name { get; }
    /// <summary>Its symbol in the paper (η, S_churn, r, …), or the name where the paper has none.</summary>
    public string Symbol { get; }
    /// <summary>What the setting does, in one sentence.</summary>
    public string Description { get; }

    /// <summary>"η (eta)", or the name alone where it is its own symbol.</summary>
    public string Label => Symbol == Name ? Name : $"{Symbol} ({Name})";
    /// <summary>The value on this solver; null where the solver picks it at run time (the description says how).</summary>
    public abstract object? Value { get; }
    /// <summary>double, int or bool (nullable where null means "picked at run time").</summary>
    public abstract Type ValueType { get; }

    /// <summary>A copy of the solver with this setting at <paramref name="value"/> (an int is taken for a double).</summary>
    public abstract Solver With(object? value);

    /// <summary>The value as <c>dk samplers</c> shows it: invariant numbers, inf, true/false, or "auto".</summary>
    public string FormatValue() => Value switch
    {
        null => "auto",
        double d when double.IsPositiveInfinity(d) => "inf",
        double d => d.ToString("G", CultureInfo.InvariantCulture).Replace("E-0", "e-").Replace("E+0", "e+").Replace('E', 'e'),
        bool b => b ? "true" : "false",
        var v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };

    internal static SolverSetting Of<T>(Solver solver, string name, string symbol, string description, T value, Func<T, Solver> with) =>
        new Typed<T>(solver.Name, name, symbol, description, value, with);

    /// <summary>η, the noise scale of the ODE/SDE families (0 = the ODE solver).</summary>
    internal static SolverSetting Eta(Solver solver, double eta, Func<double, Solver> with) =>
        Of(solver, "eta", "η", "noise scale of each step (0 = deterministic, 1 = full ancestral/SDE noise)", eta, with);

    /// <summary>diffusers' lower_order_final.</summary>
    internal static SolverSetting LowerOrderFinal(Solver solver, bool value, Func<bool, Solver> with) =>
        Of(solver, "lower_order_final", "lower_order_final", "drop to lower orders on the last steps (diffusers' rule)", value, with);

    private sealed class Typed<T>(string solver, string name, string symbol, string description, T value, Func<T, Solver> with)
        : SolverSetting(name, symbol, description)
    {
        public override object? Value => value;
        public override Type ValueType => typeof(T);

        public override Solver With(object? v)
        {
            var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
            object? converted = v switch
            {
                null when !typeof(T).IsValueType || Nullable.GetUnderlyingType(typeof(T)) is not null => null,
                int i when target == typeof(double) => (double)i,
                _ when v is not null && v.GetType() == target => v,
                _ => throw new SolverSettingException(solver, Name, $"takes {Describe(target)}, found {v ?? "nothing"}"),
            };
            return with((T)converted!);
        }

        private static string Describe(Type t) => t == typeof(bool) ? "true or false" : t == typeof(int) ? "an integer" : "a number";
    }
}
