using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// The training tables diffusers' schedulers keep, in the float32 values torch computes: ᾱ_t (with the zero-SNR
/// clamp ᾱ_{T−1} = 2⁻²⁴ of the σ-based schedulers), σ_t = ((1 − ᾱ)/ᾱ)^½ and log σ_t.
/// </summary>
internal sealed class TrainingTables
{
    public TrainingTables(DiscreteSchedule schedule, bool clampZeroSnr)
    {
        AlphasCumprod = schedule.AlphasCumprod.Select(a => (float)a).ToArray();
        if (clampZeroSnr && AlphasCumprod[^1] == 0) AlphasCumprod[^1] = (float)DiscreteSchedule.MinAlphaCumprod;
        Sigmas = AlphasCumprod.Select(a => MathF.Sqrt((1f - a) / a)).ToArray();
        LogSigmas = Sigmas.Select(s => (float)Math.Log(s)).ToArray();
    }

    public float[] AlphasCumprod { get; }
    /// <summary>σ_t per training step (increasing).</summary>
    public float[] Sigmas { get; }
    public float[] LogSigmas { get; }
    public int Count => AlphasCumprod.Length;
    /// <summary>((1 − ᾱ₀)/ᾱ₀)^½, what final_sigmas_type "sigma_min" ends on.</summary>
    public float SigmaMin => Sigmas[0];

    /// <summary>
    /// The first training step kept by lambda_min_clipped: torch.searchsorted over the flipped float32
    /// λ_t = log √ᾱ − log √(1 − ᾱ) (the count of steps whose λ is below the clip).
    /// </summary>
    public int ClippedIndex(double lambdaMinClipped)
    {
        int clipped = 0;
        for (int t = Count - 1; t >= 0; t--)
        {
            float a = AlphasCumprod[t], lambda = (float)Math.Log(MathF.Sqrt(a)) - (float)Math.Log(MathF.Sqrt(1f - a));
            if (lambda < lambdaMinClipped) clipped++;
            else break;
        }
        return clipped;
    }
}

/// <summary>diffusers' timestep spacings and σ conversions (set_timesteps), as numpy computes them.</summary>
internal static class Grids
{
    /// <summary>DDIM/DDPM: N integer timesteps, decreasing (trailing may give more than N when the float range rounds up).</summary>
    public static int[] Discrete(int T, int n, string spacing, int offset) => spacing switch
    {
        "linspace" => Numpy.Linspace(0, T - 1, n).Select(Numpy.Round).Reverse().Select(v => (int)v).ToArray(),
        "leading" => Enumerable.Range(0, n).Select(i => i * (T / n)).Reverse().Select(v => v + offset).ToArray(),
        "trailing" => Numpy.Arange(T, 0, -((double)T / n)).Select(v => (int)Numpy.Round(v) - 1).ToArray(),
        _ => throw new ArgumentException($"timestep_spacing '{spacing}'"),
    };

    /// <summary>The Euler family: N float32 timesteps, decreasing.</summary>
    public static double[] Fractional(int T, int n, string spacing, int offset) => spacing switch
    {
        "linspace" => Numpy.Linspace(0, T - 1, n).Select(v => (double)(float)v).Reverse().ToArray(),
        "leading" => Enumerable.Range(0, n).Select(i => (double)(float)(i * (T / n)) + offset).Reverse().ToArray(),
        "trailing" => Numpy.Arange(T, 0, -((double)T / n)).Select(v => (double)(float)Numpy.Round(v) - 1).ToArray(),
        _ => throw new ArgumentException($"timestep_spacing '{spacing}'"),
    };

    /// <summary>
    /// The multistep solvers (DPM-Solver, DEIS, UniPC): linspace and leading take N of N + 1 points (dropping 0), over
    /// the training steps below <paramref name="last"/> (lambda_min_clipped); trailing steps T/N down from <paramref name="last"/>.
    /// </summary>
    public static int[] Solver(int T, int last, int n, string spacing, int offset) => spacing switch
    {
        "linspace" => Numpy.Linspace(0, last - 1, n + 1).Select(Numpy.Round).Reverse().Take(n).Select(v => (int)v).ToArray(),
        "leading" => Enumerable.Range(0, n + 1).Select(i => i * (last / (n + 1))).Reverse().Take(n).Select(v => v + offset).ToArray(),
        "trailing" => Numpy.Arange(last, 0, -((double)T / n)).Select(v => (int)Numpy.Round(v) - 1).ToArray(),
        _ => throw new ArgumentException($"timestep_spacing '{spacing}'"),
    };

    /// <summary>σ at (fractional) timesteps: np.interp over the training σ table.</summary>
    public static double[] Interp(IEnumerable<double> timesteps, float[] sigmas) => timesteps.Select(t => Numpy.Interp(t, sigmas)).ToArray();

    /// <summary>Karras et al. (2022) ρ = 7 between σ_max and σ_min, n points.</summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int n, double rho = 7)
    {
        double minInv = Math.Pow(sigmaMin, 1 / rho), maxInv = Math.Pow(sigmaMax, 1 / rho);
        return Numpy.Linspace(0, 1, n).Select(r => Math.Pow(maxInv + r * (minInv - maxInv), rho)).ToArray();
    }

    /// <summary>Log-uniform from σ_max to σ_min, n points.</summary>
    public static double[] Exponential(double sigmaMin, double sigmaMax, int n) =>
        Numpy.Linspace(Math.Log(sigmaMax), Math.Log(sigmaMin), n).Select(Math.Exp).ToArray();

    /// <summary>
    /// σ_min + ppf(1 − u)·(σ_max − σ_min) for u = linspace(0, 1, n), ppf the Beta(0.6, 0.6) quantile (Lee et al. 2024,
    /// diffusers' use_beta_sigmas; scipy.stats.beta.ppf there, MathNet's inverse CDF here).
    /// </summary>
    public static double[] Beta(double sigmaMin, double sigmaMax, int n, double alpha = 0.6, double beta = 0.6) =>
        Numpy.Linspace(0, 1, n).Select(u => sigmaMin + BetaPpf(1 - u, alpha, beta) * (sigmaMax - sigmaMin)).ToArray();

    private static double BetaPpf(double p, double a, double b) => p <= 0 ? 0 : p >= 1 ? 1 : MathNet.Numerics.Distributions.Beta.InvCDF(a, b, p);

    /// <summary>The timestep of each σ (diffusers' _sigma_to_t).</summary>
    public static double[] SigmaToT(IEnumerable<double> sigmas, float[] logSigmas) => sigmas.Select(s => Numpy.SigmaToT(s, logSigmas)).ToArray();
}
