namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// A discrete variance-preserving training schedule as diffusers builds it: β_t for t = 0 … T−1 (linear,
/// scaled_linear, squaredcos_cap_v2, sigmoid; optionally rescaled to zero terminal SNR), ᾱ_t = Π(1 − β), and the
/// σ-space view σ_t = √((1 − ᾱ_t)/ᾱ_t) used by the solvers, with log-σ interpolation back to a fractional timestep
/// (k-diffusion's sigma_to_t). A zero-SNR schedule has ᾱ_{T−1} = 0, hence σ_{T−1} = ∞: σ reads any ᾱ below 2⁻²⁴
/// as 2⁻²⁴ (diffusers' Euler and DPM-Solver schedulers set ᾱ_{T−1} = 2⁻²⁴), so σ_max ≈ 4096.
/// </summary>
public sealed class DiscreteSchedule
{
    /// <summary>ᾱ below this is read as this when converting to σ (diffusers' clamp of a zero terminal SNR).</summary>
    public const double MinAlphaCumprod = 1.0 / (1 << 24);

    /// <summary>The schedule of these β_t (t = 0 … T−1).</summary>
    /// <exception cref="ArgumentException">Fewer than 2 timesteps.</exception>
    public DiscreteSchedule(double[] betas)
    {
        if (betas.Length < 2) throw new ArgumentException("a discrete schedule needs at least 2 timesteps");
        Betas = betas;
        AlphasCumprod = new double[betas.Length];
        double a = 1;
        // 1 − β in float32, the product accumulated in double and stored in float32, as torch.cumprod does on the CPU
        // (the training data was noised with these float32 ᾱ).
        for (int t = 0; t < betas.Length; t++) AlphasCumprod[t] = (float)(a *= (float)(1 - betas[t]));
        Sigmas = AlphasCumprod.Select(ab => Math.Max(ab, MinAlphaCumprod)).Select(ab => Math.Sqrt((1 - ab) / ab)).ToArray();
        _logSigmas = Sigmas.Select(s => Math.Log(s)).ToArray();
    }

    private readonly double[] _logSigmas;

    /// <summary>β_t per training timestep.</summary>
    public double[] Betas { get; }
    /// <summary>ᾱ_t = Π(1 − β), float32-rounded as torch computes it.</summary>
    public double[] AlphasCumprod { get; }
    /// <summary>σ_t for each training timestep (increasing).</summary>
    public double[] Sigmas { get; }
    /// <summary>The number of training timesteps T.</summary>
    public int TrainTimesteps => Betas.Length;
    /// <inheritdoc/>
    public double SigmaMin => Sigmas[0];
    /// <inheritdoc/>
    public double SigmaMax => Sigmas[^1];

    /// <summary>β_t as diffusers computes them (in float32, as torch does), rescaled to zero terminal SNR when asked.</summary>
    public static DiscreteSchedule Create(string betaSchedule, int steps = 1000, double betaStart = 0.0001, double betaEnd = 0.02, bool rescaleZeroSnr = false)
    {
        var betas = new double[steps];
        switch (betaSchedule)
        {
            case "linear":
                foreach (var (b, i) in TorchLinspace((float)betaStart, (float)betaEnd, steps).Select((b, i) => (b, i))) betas[i] = b;
                break;
            case "scaled_linear":
                foreach (var (r, i) in TorchLinspace((float)Math.Sqrt(betaStart), (float)Math.Sqrt(betaEnd), steps).Select((r, i) => (r, i))) betas[i] = r * r;
                break;
            case "squaredcos_cap_v2":
                static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
                for (int i = 0; i < steps; i++) betas[i] = (float)Math.Min(1 - AlphaBar((i + 1.0) / steps) / AlphaBar((double)i / steps), 0.999);
                break;
            case "sigmoid": // GeoDiff: sigmoid(linspace(−6, 6, T))·(β_end − β_start) + β_start
                foreach (var (u, i) in TorchLinspace(-6, 6, steps).Select((u, i) => (u, i)))
                    betas[i] = 1 / (1 + MathF.Exp(-u)) * (float)(betaEnd - betaStart) + (float)betaStart; // torch: 1/(1 + exp(−u)) in float32
                break;
            default:
                throw new ArgumentException($"beta_schedule '{betaSchedule}' is not supported ({string.Join(", ", BetaSchedules)})");
        }
        return new DiscreteSchedule(rescaleZeroSnr ? RescaleZeroTerminalSnr(betas) : betas);
    }

    /// <summary>
    /// torch.linspace in float32 as its AVX2 CPU kernel computes it, to the last bit: start + step·i for the first
    /// half, end − step·(n − 1 − i) for the rest, evaluated (with a fused multiply-add) at the first index of each block
    /// of 8 while pairs of blocks fit, and the block's other lanes as base + step·j. Zero-SNR rescaling amplifies
    /// last-bit differences of β near T, so the bits matter there.
    /// </summary>
    private static float[] TorchLinspace(float start, float end, int n)
    {
        if (n == 1) return [start];
        float step = (end - start) / (n - 1);
        float At(int i) => i < n / 2 ? MathF.FusedMultiplyAdd(step, i, start) : MathF.FusedMultiplyAdd(-step, n - 1 - i, end);
        var y = new float[n];
        int block = 0;
        for (; block <= n - 16; block += 16)
            for (int half = block; half < block + 16; half += 8)
            {
                float b = At(half);
                for (int j = 0; j < 8; j++) y[half + j] = b + step * j;
            }
        for (int i = block; i < n; i++) y[i] = At(i);
        return y;
    }

    /// <summary>The beta_schedule names <see cref="Create"/> knows.</summary>
    public static readonly string[] BetaSchedules = ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"];

    /// <summary>
    /// Lin et al. (2024), Alg. 1 (diffusers' rescale_zero_terminal_snr): √ᾱ is shifted so its last value is 0 and
    /// scaled so its first is unchanged, then turned back into β (the last β is 1). In float32, step for step as torch.
    /// </summary>
    public static double[] RescaleZeroTerminalSnr(double[] betas)
    {
        int n = betas.Length;
        var root = new float[n];
        double a = 1;
        for (int t = 0; t < n; t++) root[t] = MathF.Sqrt((float)(a *= (float)(1 - betas[t])));
        float first = root[0], last = root[^1], scale = first / (first - last);
        var alphaBar = root.Select(r => { float v = (r - last) * scale; return v * v; }).ToArray();
        var rescaled = new double[n];
        rescaled[0] = 1 - alphaBar[0];
        for (int t = 1; t < n; t++) rescaled[t] = 1 - alphaBar[t] / alphaBar[t - 1];
        return rescaled;
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

    /// <summary>
    /// σ at the inference timesteps, then a final 0 (diffusers' set_alpha_to_one: the last step lands on x̂₀) or, with
    /// <paramref name="finalSigmasType"/> "sigma_min", σ of training step 0.
    /// </summary>
    public double[] InferenceSigmas(int steps, string spacing = "leading", int stepsOffset = 0, string finalSigmasType = "zero") =>
        [.. InferenceTimesteps(steps, spacing, stepsOffset).Select(t => Sigmas[t]), FinalSigma(finalSigmasType)];

    /// <summary>The σ a grid ends on: 0 for final_sigmas_type "zero", σ_min (training step 0) for "sigma_min".</summary>
    public double FinalSigma(string finalSigmasType) => finalSigmasType switch
    {
        "zero" => 0,
        "sigma_min" => SigmaMin,
        _ => throw new ArgumentException($"final_sigmas_type '{finalSigmasType}' is not supported (zero, sigma_min)"),
    };

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
