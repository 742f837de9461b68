namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// A discrete variance-preserving training schedule as diffusers builds it: β_t for t = 0 … T−1 (linear,
/// scaled_linear, squaredcos_cap_v2), ᾱ_t = Π(1 − β), and the σ-space view σ_t = √((1 − ᾱ_t)/ᾱ_t) used by the
/// solvers, with log-σ interpolation back to a fractional timestep (k-diffusion's sigma_to_t).
/// </summary>
public sealed class DiscreteSchedule
{
    public DiscreteSchedule(double[] betas)
    {
        if (betas.Length < 2) throw new ArgumentException("a discrete schedule needs at least 2 timesteps");
        Betas = betas;
        AlphasCumprod = new double[betas.Length];
        double a = 1;
        for (int t = 0; t < betas.Length; t++) AlphasCumprod[t] = a *= 1 - betas[t];
        Sigmas = AlphasCumprod.Select(ab => Math.Sqrt((1 - ab) / ab)).ToArray();
        _logSigmas = Sigmas.Select(s => Math.Log(s)).ToArray();
    }

    private readonly double[] _logSigmas;

    public double[] Betas { get; }
    public double[] AlphasCumprod { get; }
    /// <summary>σ_t for each training timestep (increasing).</summary>
    public double[] Sigmas { get; }
    public int TrainTimesteps => Betas.Length;
    public double SigmaMin => Sigmas[0];
    public double SigmaMax => Sigmas[^1];

    /// <summary>β_t as diffusers computes them (in float32, as torch does).</summary>
    public static DiscreteSchedule Create(string betaSchedule, int steps = 1000, double betaStart = 0.0001, double betaEnd = 0.02)
    {
        var betas = new double[steps];
        switch (betaSchedule)
        {
            case "linear":
                for (int i = 0; i < steps; i++) betas[i] = (float)(betaStart + (betaEnd - betaStart) * i / (steps - 1));
                break;
            case "scaled_linear":
                for (int i = 0; i < steps; i++)
                {
                    float r = (float)(Math.Sqrt(betaStart) + (Math.Sqrt(betaEnd) - Math.Sqrt(betaStart)) * i / (steps - 1));
                    betas[i] = r * r;
                }
                break;
            case "squaredcos_cap_v2":
                static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
                for (int i = 0; i < steps; i++) betas[i] = (float)Math.Min(1 - AlphaBar((i + 1.0) / steps) / AlphaBar((double)i / steps), 0.999);
                break;
            default:
                throw new ArgumentException($"beta_schedule '{betaSchedule}' is not supported (linear, scaled_linear, squaredcos_cap_v2)");
        }
        return new DiscreteSchedule(betas);
    }

    /// <summary>The fractional timestep whose σ is <paramref name="sigma"/> (linear in log σ between training steps).</summary>
    public double SigmaToT(double sigma)
    {
        double ls = Math.Log(Math.Max(sigma, 1e-10));
        if (ls <= _logSigmas[0]) return 0;
        if (ls >= _logSigmas[^1]) return TrainTimesteps - 1;
        int hi = Array.BinarySearch(_logSigmas, ls);
        if (hi >= 0) return hi;
        hi = ~hi;
        int lo = hi - 1;
        double w = (_logSigmas[hi] - ls) / (_logSigmas[hi] - _logSigmas[lo]);
        return w * lo + (1 - w) * hi;
    }
}
