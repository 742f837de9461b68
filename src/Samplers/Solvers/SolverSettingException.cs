namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A solver setting that is out of range, of the wrong type, or not taken by the solver; names both ("heun: s_churn
/// must be ≥ 0, found -1"), and keeps the parts apart so that a front end can speak of its own option instead.
/// </summary>
public sealed class SolverSettingException(string solverName, string settingName, string problem, string? settingLabel = null)
    : ArgumentException($"{solverName}: {settingLabel ?? settingName} {problem}")
{
    /// <summary>The solver's registry name.</summary>
    public string SolverName { get; } = solverName;
    /// <summary>The setting as <see cref="SolverSetting.Name"/> spells it.</summary>
    public string SettingName { get; } = settingName;
    /// <summary>What is wrong, as a predicate of the setting ("must be ≥ 0, found -1").</summary>
    public string Problem { get; } = problem;

    internal static double AtLeast(double value, double min, string solver, string setting) =>
        value >= min && double.IsFinite(value) ? value : throw new SolverSettingException(solver, setting, $"must be a finite number ≥ {min}, found {value}");

    /// <summary>As <see cref="AtLeast(double, double, string, string)"/>, but +∞ is allowed (an open upper bound such as S_tmax).</summary>
    internal static double AtLeastOrInfinity(double value, double min, string solver, string setting) =>
        value >= min ? value : throw new SolverSettingException(solver, setting, $"must be ≥ {min} (∞ allowed), found {value}");

    internal static int AtLeast(int value, int min, string solver, string setting) =>
        value >= min ? value : throw new SolverSettingException(solver, setting, $"must be ≥ {min}, found {value}");

    internal static double Positive(double value, string solver, string setting) =>
        value > 0 ? value : throw new SolverSettingException(solver, setting, $"must be > 0, found {value}");
}
