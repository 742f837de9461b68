using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' HeunDiscreteScheduler: the Euler grid (optionally Karras/exponential/beta σ over the spaced range), each
/// σ but the first and last called twice: an Euler predictor to σ', then x' = x + (σ' − σ)·(d + d')/2 with d' taken at
/// the predictor (x̂₀ read at σ' there); the last step, to σ = 0, is Euler. x̂₀ is clipped when clip_sample is set.
/// </summary>
internal sealed class HeunScheduler : DiffusersScheduler
{
    internal HeunScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2", "exp");
        CheckPrediction("epsilon", "v_prediction", "sample");
        CheckSigmaGrids();
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly SchedulerConfig _c;
        private readonly float[] _sigmas;
        private Tensor? _derivative, _first, _x0;
        private double? _dt;

        public Run(HeunScheduler s, int steps)
        {
            _c = s.Config;
            var tables = s.Tables.Value;
            var timesteps = Grids.Fractional(_c.NumTrainTimesteps, steps, _c.TimestepSpacing, _c.StepsOffset);
            var sigmas = Grids.Interp(timesteps, tables.Sigmas);
            if (s.ConvertSigmas(sigmas[^1], sigmas[0], steps, configRange: false) is { } converted)
            {
                sigmas = converted;
                timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
            }
            var f = SigmaSpace.F32([.. sigmas, 0]);
            // [σ₀, σ₁, σ₁, …, σ_{N−1}, σ_{N−1}, 0] and [t₀, t₁, t₁, …].
            _sigmas = [f[0], .. f[1..^1].SelectMany(v => new[] { v, v }), f[^1]];
            Timesteps = [(float)timesteps[0], .. timesteps[1..].SelectMany(t => new[] { (float)t, (float)t })];
            s.CheckFirstTimestep(timesteps);
            InitNoiseSigma = SigmaSpace.InitNoiseSigma(_sigmas, _c.TimestepSpacing);
        }

        public override double InputScale(int i) => SigmaSpace.InputScale(_sigmas[i]);

        public override (double From, double To) Levels(int i) => i % 2 == 0 ? (_sigmas[i], _sigmas[i + 1]) : (_sigmas[i - 1], _sigmas[i]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            bool first = _dt is null;
            double sigma = first ? _sigmas[i] : _sigmas[i - 1], next = first ? _sigmas[i + 1] : _sigmas[i];
            double at = first ? sigma : next; // where x̂₀ is read
            LinearForm x0 = SigmaSpace.X0(_c.PredictionType, at, sample, output);
            if (_c.ClipSample)
            {
                _x0 ??= ctx.Like();
                x0.WriteTo(b, _x0);
                ctx.Clip(_x0, _c.ClipSampleRange);
                x0 = new LinearForm().Add(1, _x0);
            }
            var derivative = SigmaSpace.Derivative(sample, x0, at);
            if (first)
            {
                _derivative ??= ctx.Like();
                _first ??= ctx.Like();
                derivative.WriteTo(b, _derivative);
                b.Copy(sample, _first);
                _dt = next - sigma;
                new LinearForm().Add(1, sample).Add(_dt.Value, _derivative).WriteTo(b, sample);
            }
            else
            {
                double dt = _dt!.Value;
                new LinearForm().Add(1, _first!).Add(dt / 2, _derivative!).Add(dt / 2, derivative).WriteTo(b, sample);
                _dt = null;
            }
        }
    }
}
