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

    /// <summary>
    /// Inference timesteps (decreasing) as diffusers' DDIM/DDPM schedulers space them: "leading"
    /// (arange(0, n)·(T // n) + steps_offset), "trailing" (round(arange(T, 0, −T/n)) − 1) or "linspace"
    /// (round(linspace(0, T − 1, n))).
    /// </summary>
    public int[] InferenceTimesteps(int steps, string spacing = "leading", int stepsOffset = 0)
    {
        int T = TrainTimesteps;
        if (steps < 1 || steps > T) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be in 1..{T}, found {steps}");
        var t = spacing switch
        {
            "leading" => Enumerable.Range(0, steps).Select(i => i * (T / steps) + stepsOffset).Reverse().ToArray(),
            "trailing" => Enumerable.Range(0, steps).Select(i => (int)Math.Round(T - i * (double)T / steps) - 1).ToArray(),
            "linspace" => Enumerable.Range(0, steps).Select(i => (int)Math.Round(steps == 1 ? 0 : i * (T - 1.0) / (steps - 1), MidpointRounding.ToEven)).Reverse().ToArray(),
            _ => throw new ArgumentException($"timestep_spacing '{spacing}' is not supported (leading, trailing, linspace)"),
        };
        return t.Select(v => Math.Clamp(v, 0, T - 1)).ToArray();
    }

    /// <summary>σ at the inference timesteps, then a final 0 (diffusers' set_alpha_to_one: the last step lands on x̂₀).</summary>
    public double[] InferenceSigmas(int steps, string spacing = "leading", int stepsOffset = 0) =>
        [.. InferenceTimesteps(steps, spacing, stepsOffset).Select(t => Sigmas[t]), 0.0];

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
