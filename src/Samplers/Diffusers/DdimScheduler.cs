using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' DDIMScheduler (Song, Meng &amp; Ermon 2021) in its variables: the sample x_t, ᾱ per training step. At t with
/// t' = t − T // N (ᾱ' = ᾱ₀ or 1 past the end, per set_alpha_to_one): x̂₀ and ε̂ from the prediction type, x̂₀ thresholded or
/// clipped (ε̂ keeps the unclipped value: the pipeline's use_clipped_model_output is false), σ_η = η·√((1 − ᾱ')/(1 − ᾱ)·(1 − ᾱ/ᾱ')),
/// x' = √ᾱ'·x̂₀ + √(1 − ᾱ' − σ_η²)·ε̂ + σ_η·z.
/// </summary>
internal sealed class DdimScheduler : DiffusersScheduler
{
    internal DdimScheduler(SchedulerConfig config, double eta = 0) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample");
        if (!(eta >= 0 && double.IsFinite(eta))) throw new ArgumentOutOfRangeException(nameof(eta), $"eta must be a finite number ≥ 0, found {eta}");
        Eta = eta;
    }

    /// <summary>η of the DDIM step (0 deterministic, 1 the DDPM posterior variance).</summary>
    public double Eta { get; }

    internal DdimScheduler WithEta(double eta) => new(Config, eta);

    private protected override bool ClampsZeroSnr => false;

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly DdimScheduler _s;
        private readonly float[] _ac;
        private readonly int[] _t;
        private readonly int _stride;
        private Tensor? _x0, _noise;

        public Run(DdimScheduler s, int steps)
        {
            _s = s;
            var c = s.Config;
            _ac = s.Tables.Value.AlphasCumprod;
            _t = Grids.Discrete(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            if (_t.Any(t => t >= c.NumTrainTimesteps))
                throw new ArgumentException($"DDIMScheduler: steps_offset {c.StepsOffset} puts a timestep past num_train_timesteps ({c.NumTrainTimesteps}) at {steps} steps");
            _stride = c.NumTrainTimesteps / steps;
            Timesteps = _t.Select(t => (float)t).ToArray();
        }

        private double AlphaPrev(int prev) => prev >= 0 ? _ac[prev] : _s.Config.SetAlphaToOne ? 1.0 : _ac[0];

        /// <summary>alphas_cumprod[t] with Python's indexing: trailing spacing can end on t = −1, which reads the last entry.</summary>
        private double Alpha(int t) => _ac[t >= 0 ? t : _ac.Length + t];

        public override (double From, double To) Levels(int i) => (SigmaOf(Alpha(_t[i])), SigmaOf(AlphaPrev(_t[i] - _stride)));

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var c = _s.Config;
            int t = _t[i], prev = t - _stride;
            double a = Alpha(t), aPrev = AlphaPrev(prev), b = 1 - a;
            double sa = Math.Sqrt(a), sb = Math.Sqrt(b);
            // x̂₀ and ε̂ as forms in (sample, output).
            var x0 = PredictionForms.Data(c.PredictionType, sa, sb, sample, output);
            var eps = PredictionForms.Noise(c.PredictionType, sa, sb, sample, output);
            double variance = (1 - aPrev) / b * (1 - a / aPrev), std = _s.Eta * Math.Sqrt(variance);
            var next = new LinearForm();
            if (c.Thresholding || c.ClipSample)
            {
                _x0 ??= ctx.Like();
                ctx.WriteX0(c.PredictionType, sample, output, Math.Sqrt(a), Math.Sqrt(1 - a), _x0);
                if (c.Thresholding) ctx.Threshold(_x0, c.DynamicThresholdingRatio, c.SampleMaxValue);
                else ctx.Clip(_x0, c.ClipSampleRange);
                next.Add(Math.Sqrt(aPrev), _x0);
            }
            else next.Add(Math.Sqrt(aPrev), x0);
            next.Add(Math.Sqrt(1 - aPrev - std * std), eps);
            if (_s.Eta > 0)
            {
                _noise ??= ctx.Like();
                ctx.Noise(_noise, i);
                next.Add(std, _noise);
            }
            next.WriteTo(ctx.Backend, sample);
        }
    }
}
