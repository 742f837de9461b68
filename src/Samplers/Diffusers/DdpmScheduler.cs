using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' DDPMScheduler (Ho, Jain &amp; Abbeel 2020): the posterior mean over the spaced grid,
/// x' = (√ᾱ'·β_t/(1 − ᾱ))·x̂₀ + (√α_t·(1 − ᾱ')/(1 − ᾱ))·x with α_t = ᾱ/ᾱ', β_t = 1 − α_t, t' the next grid timestep
/// (ᾱ' = 1 after the last), plus, for t &gt; 0, noise of the variance_type's scale (fixed_small: √((1 − ᾱ')/(1 − ᾱ)·β_t);
/// fixed_large: √β_t). The noise is the engine's Philox noise, not torch's generator.
/// </summary>
internal sealed class DdpmScheduler : DiffusersScheduler
{
    private static readonly string[] Variances = ["fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log"];

    internal DdpmScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2", "laplace", "sigmoid");
        CheckPrediction("epsilon", "v_prediction", "sample");
        Require(config.VarianceType is { } v && Variances.Contains(v), "variance_type",
            $"'{config.VarianceType}' is not supported ({string.Join(", ", Variances)}; learned variances need a network that predicts them, which diffusers' step reads from extra output channels)");
    }

    private protected override bool ClampsZeroSnr => false;

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly DdpmScheduler _s;
        private readonly float[] _ac;
        private readonly int[] _t;
        private Tensor? _x0, _noise;

        public Run(DdpmScheduler s, int steps)
        {
            _s = s;
            var c = s.Config;
            _ac = s.Tables.Value.AlphasCumprod;
            _t = Grids.Discrete(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            if (_t.Any(t => t >= c.NumTrainTimesteps))
                throw new ArgumentException($"DDPMScheduler: steps_offset {c.StepsOffset} puts a timestep past num_train_timesteps ({c.NumTrainTimesteps}) at {steps} steps");
            Timesteps = _t.Select(t => (float)t).ToArray();
        }

        /// <summary>ᾱ of the next grid timestep, 1 after the last or before a negative one (diffusers' prev_t &lt; 0).</summary>
        private double AlphaPrev(int i) => i + 1 < _t.Length && _t[i + 1] >= 0 ? _ac[_t[i + 1]] : 1.0;

        /// <summary>alphas_cumprod[t] with Python's indexing: trailing spacing can end on t = −1, which reads the last entry.</summary>
        private double Alpha(int t) => _ac[t >= 0 ? t : _ac.Length + t];

        public override (double From, double To) Levels(int i) => (SigmaOf(Alpha(_t[i])), SigmaOf(AlphaPrev(i)));

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var c = _s.Config;
            int t = _t[i];
            double a = Alpha(t), aPrev = AlphaPrev(i), b = 1 - a, bPrev = 1 - aPrev;
            double alpha = a / aPrev, beta = 1 - alpha;
            double sa = Math.Sqrt(a), sb = Math.Sqrt(b);
            double x0Coefficient = Math.Sqrt(aPrev) * beta / b, sampleCoefficient = Math.Sqrt(alpha) * bPrev / b;
            var next = new LinearForm().Add(sampleCoefficient, sample);
            if (c.Thresholding || c.ClipSample)
            {
                _x0 ??= ctx.Like();
                ctx.WriteX0(c.PredictionType, sample, output, sa, sb, _x0);
                if (c.Thresholding) ctx.Threshold(_x0, c.DynamicThresholdingRatio, c.SampleMaxValue);
                else ctx.Clip(_x0, c.ClipSampleRange);
                next.Add(x0Coefficient, _x0);
            }
            else
            {
                next.Add(x0Coefficient, PredictionForms.Data(c.PredictionType, sa, sb, sample, output));
            }
            if (t > 0)
            {
                // _get_variance: (1 − ᾱ')/(1 − ᾱ)·β_t clamped at 1e-20; fixed_large uses β_t; fixed_large_log hands
                // log β_t to the square root (NaN in diffusers, kept).
                double variance = Math.Max(bPrev / b * beta, 1e-20);
                double std = c.VarianceType switch
                {
                    "fixed_small_log" => Math.Exp(0.5 * Math.Log(variance)),
                    "fixed_large" => Math.Sqrt(beta),
                    "fixed_large_log" => Math.Sqrt(Math.Log(beta)),
                    _ => Math.Sqrt(variance),
                };
                _noise ??= ctx.Like();
                ctx.Noise(_noise, i);
                next.Add(std, _noise);
            }
            next.WriteTo(ctx.Backend, sample);
        }
    }
}
