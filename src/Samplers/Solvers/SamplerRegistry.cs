using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>Every sampler by its name.</summary>
public static class SamplerRegistry
{
    private static readonly Solver[] All = [new Euler(), new Heun(), new EulerAncestral(), new DpmSolverPP2M(), new DpmSolverPP2MSde(), new Ddim(), new Ddpm(), new DormandPrince45(),
        new DpmSolver(1),
        new DpmSolver(2),
        new DpmSolver(3),
        new DpmSolverPP3M(),
        new DpmSolverPP3MSde(),
        new UniPC(bh2: false),
        new UniPC(bh2: true),
        new Lms(),
        new Deis(2),
        new Deis(3),
        new IPndm(),
        new Pndm(rungeKuttaWarmup: true),
        new Pndm(rungeKuttaWarmup: false),
        new ScoreSdeEulerMaruyama(new VpSchedule()), new ScoreSdeEulerMaruyama(new SubVpSchedule()), new ScoreSdeEulerMaruyama(new VeSchedule()),
        new PredictorCorrector(variancePreserving: false), new PredictorCorrector(variancePreserving: true), new AnnealedLangevin()];

    public static IReadOnlyList<Solver> Solvers => All;

    public static Solver Get(string name) =>
        All.FirstOrDefault(s => s.Name == name.Trim().ToLowerInvariant())
        ?? throw new ArgumentException($"unknown sampler '{name}'; available: {string.Join(", ", All.Select(s => s.Name))}");
}
