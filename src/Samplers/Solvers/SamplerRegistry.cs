using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>Every sampler by its name, each a configured solver with its default settings.</summary>
public static class SamplerRegistry
{
    private static readonly Solver[] All =
    [
        new EulerAncestral { Eta = null }, // euler
        new Heun(),
        new EulerAncestral(), // euler_ancestral, η = 1
        new DpmSolverPP2M(), // dpmpp_2m
        new DpmSolverPP2M { Eta = 1 }, // dpmpp_2m_sde
        new Ddim(),
        new Ddpm(),
        new DormandPrince45(),
        new DpmSolver(1),
        new DpmSolver(2),
        new DpmSolver(3),
        new DpmSolverPP3M(), // dpmpp_3m
        new DpmSolverPP3M { Eta = 1 }, // dpmpp_3m_sde
        new UniPC(bh2: false),
        new UniPC(bh2: true),
        new Lms(),
        new Deis(2),
        new Deis(3),
        new IPndm(),
        new Pndm(rungeKuttaWarmup: true),
        new Pndm(rungeKuttaWarmup: false),
        new ScoreSdeEulerMaruyama(new VpSchedule()),
        new ScoreSdeEulerMaruyama(new SubVpSchedule()),
        new ScoreSdeEulerMaruyama(new VeSchedule()),
        new PredictorCorrector(variancePreserving: false),
        new PredictorCorrector(variancePreserving: true),
        new AnnealedLangevin(),
    ];

    /// <summary>Every solver, with its default settings, in listing order.</summary>
    public static IReadOnlyList<Solver> Solvers => All;

    /// <summary>
    /// The sampler called <paramref name="name"/> (case-insensitive) with its default settings (solvers are immutable:
    /// configure a copy with <c>with</c> or <see cref="Solver.With"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No sampler has that name; the message lists the names.</exception>
    public static Solver Get(string name) => Get(name, []);

    /// <summary>The sampler called <paramref name="name"/>, or null when none is.</summary>
    public static Solver? Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// <see cref="Get(string)"/> for a front end that accepts more names than the registry's (the pipeline's and dk's
    /// <c>diffusers</c>): the error for an unknown name lists <paramref name="alsoAccepted"/> first.
    /// </summary>
    internal static Solver Get(string name, params string[] alsoAccepted) =>
        Find(name) ?? throw new ArgumentException($"unknown sampler '{name}'; available: {string.Join(", ", alsoAccepted.Concat(All.Select(s => s.Name)))}");

    /// <summary>The setting called <paramref name="name"/> as the first sampler that takes it describes it (null: none does).</summary>
    public static SolverSetting? Setting(string name) => All.SelectMany(s => s.Settings).FirstOrDefault(s => s.Name == name);

    /// <summary>Every setting name some sampler takes, in registry order.</summary>
    public static IEnumerable<string> SettingNames => All.SelectMany(s => s.Settings).Select(s => s.Name).Distinct();

    /// <summary>Names of the samplers that take <paramref name="setting"/>.</summary>
    public static IEnumerable<string> Taking(string setting) => All.Where(s => s.Takes(setting)).Select(s => s.Name);
}
