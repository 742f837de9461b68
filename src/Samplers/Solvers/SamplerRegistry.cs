using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>Every sampler by its name.</summary>
public static class SamplerRegistry
{
    private static readonly Solver[] All = [new Euler(), new Heun(), new EulerAncestral(), new DpmSolverPP2M(), new DpmSolverPP2MSde(), new Ddim(), new Ddpm(), new DormandPrince45(),
        new ScoreSdeEulerMaruyama(new VpSchedule()), new ScoreSdeEulerMaruyama(new SubVpSchedule()), new ScoreSdeEulerMaruyama(new VeSchedule()),
        new PredictorCorrector(variancePreserving: false), new PredictorCorrector(variancePreserving: true), new AnnealedLangevin()];

    public static IReadOnlyList<Solver> Solvers => All;

    public static Solver Get(string name) =>
        All.FirstOrDefault(s => s.Name == name.Trim().ToLowerInvariant())
        ?? throw new ArgumentException($"unknown sampler '{name}'; available: {string.Join(", ", All.Select(s => s.Name))}");
}
