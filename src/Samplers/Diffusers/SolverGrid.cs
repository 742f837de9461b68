using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// The grid of diffusers' multistep solver schedulers (DPM-Solver multistep and singlestep, DEIS, UniPC): integer
/// timesteps and float32 σ ending on a final σ, and the VP quantities the updates use, α_t = 1/√(σ² + 1), σ_t = σα_t,
/// λ = log α_t − log σ_t (σ = 0 gives λ = ∞, which the first-order updates turn into x̂₀).
/// </summary>
internal sealed class SolverGrid
{
    public SolverGrid(int[] timesteps, float[] sigmas)
    {
        Timesteps = timesteps;
        Sigmas = sigmas;
    }

    public int[] Timesteps { get; }
    /// <summary>One σ per timestep, then the final σ.</summary>
    public float[] Sigmas { get; }
    public int Steps => Timesteps.Length;

    public double Alpha(int i) => 1 / Math.Sqrt((double)Sigmas[i] * Sigmas[i] + 1);
    public double SigmaT(int i) => Sigmas[i] * Alpha(i);
    public double Lambda(int i) => Math.Log(Alpha(i)) - Math.Log(SigmaT(i));

    /// <summary>
    /// The σ grid of <paramref name="timesteps"/> (spaced, as doubles): the configured Karras/exponential/beta/λ-uniform
    /// σ (whose timesteps then follow σ, rounded where diffusers rounds them) or σ interpolated at the timesteps.
    /// Returns the σ (without the final one) and the timesteps cast to int64 as torch does (truncation).
    /// </summary>
    public static (double[] Sigmas, int[] Timesteps) Build(DiffusersScheduler s, TrainingTables tables, double[] timesteps, int steps,
        bool roundKarras, bool configRange, bool luLambdas = false)
    {
        double[] sigmas;
        if (luLambdas)
        {
            double lambdaMax = tables.LogSigmas[^1], lambdaMin = tables.LogSigmas[0];
            sigmas = Numpy.Linspace(0, 1, steps).Select(r => Math.Exp(lambdaMax + r * (lambdaMin - lambdaMax))).ToArray();
            timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
            if (roundKarras) timesteps = timesteps.Select(Numpy.Round).ToArray();
        }
        else if (s.ConvertSigmas(tables.Sigmas[0], tables.Sigmas[^1], steps, configRange) is { } converted)
        {
            sigmas = converted;
            timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
            if (roundKarras && s.Config.UseKarrasSigmas) timesteps = timesteps.Select(Numpy.Round).ToArray();
        }
        else sigmas = Grids.Interp(timesteps, tables.Sigmas);
        return (sigmas, timesteps.Select(t => (int)Math.Truncate(t)).ToArray());
    }
}
