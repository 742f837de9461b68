using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' EulerAncestralDiscreteScheduler: the Euler grid (linear σ interpolation, ending at 0) with ancestral noise,
/// σ_up = √(σ'²(σ² − σ'²)/σ²), σ_down = √(σ'² − σ_up²), x' = x + (σ_down − σ)(x − x̂₀)/σ + σ_up·z (z drawn on every step,
/// here from the engine's Philox noise).
/// </summary>
internal sealed class EulerAncestralScheduler : DiffusersScheduler
{
    internal EulerAncestralScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction");
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly string _prediction;
        private readonly float[] _sigmas;
        private Tensor? _noise;

        public Run(EulerAncestralScheduler s, int steps)
        {
            var c = s.Config;
            var timesteps = Grids.Fractional(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            _sigmas = SigmaSpace.F32([.. Grids.Interp(timesteps, s.Tables.Value.Sigmas), 0]);
            _prediction = c.PredictionType;
            Timesteps = timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(timesteps);
            InitNoiseSigma = SigmaSpace.InitNoiseSigma(_sigmas, c.TimestepSpacing);
        }

        public override double InputScale(int i) => SigmaSpace.InputScale(_sigmas[i]);

        public override (double From, double To) Levels(int i) => (_sigmas[i], _sigmas[i + 1]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            double sigma = _sigmas[i], to = _sigmas[i + 1];
            double up = Math.Sqrt(to * to * (sigma * sigma - to * to) / (sigma * sigma)), down = Math.Sqrt(to * to - up * up);
            var x0 = SigmaSpace.X0(_prediction, sigma, sample, output);
            _noise ??= ctx.Like();
            ctx.Noise(_noise, i);
            new LinearForm().Add(1, sample).Add(down - sigma, SigmaSpace.Derivative(sample, x0, sigma)).Add(up, _noise).WriteTo(ctx.Backend, sample);
        }
    }
}
