using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' EulerDiscreteScheduler: fractional timesteps per timestep_spacing, σ interpolated linearly at them (or
/// log-linear over the training range), optionally re-spaced as Karras/exponential/beta σ between sigma_min/sigma_max
/// (the timesteps then follow σ by log-σ interpolation), ending at 0 or σ_min; x' = x + (σ' − σ)(x − x̂₀)/σ.
/// timestep_type "continuous" with v-prediction calls the network at ¼ log σ.
/// </summary>
internal sealed class EulerScheduler : DiffusersScheduler
{
    internal EulerScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample", "original_sample");
        CheckSigmaGrids();
        Require(config.InterpolationType is "linear" or "log_linear", "interpolation_type", $"'{config.InterpolationType}' is not supported (linear, log_linear)");
        Require(config.TimestepType is "discrete" or "continuous", "timestep_type", $"'{config.TimestepType}' is not supported (discrete, continuous)");
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly string _prediction;
        private readonly float[] _sigmas;

        public Run(EulerScheduler s, int steps)
        {
            var c = s.Config;
            var tables = s.Tables.Value;
            var timesteps = Grids.Fractional(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            double[] sigmas = c.InterpolationType == "linear"
                ? Grids.Interp(timesteps, tables.Sigmas)
                : Numpy.Linspace(Math.Log(tables.Sigmas[^1]), Math.Log(tables.Sigmas[0]), steps + 1).Select(v => (double)MathF.Exp((float)v)).ToArray();
            if (s.ConvertSigmas(sigmas[^1], sigmas[0], steps, configRange: true) is { } converted)
            {
                sigmas = converted;
                timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
            }
            double last = c.FinalSigmasType == "sigma_min" ? tables.SigmaMin : 0;
            _sigmas = SigmaSpace.F32([.. sigmas, last]);
            _prediction = c.PredictionType == "original_sample" ? "sample" : c.PredictionType;
            Timesteps = c.TimestepType == "continuous" && c.PredictionType == "v_prediction"
                ? _sigmas[..^1].Select(v => 0.25f * (float)Math.Log(v)).ToArray()
                : timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(Timesteps.Select(t => (double)t).ToArray());
            InitNoiseSigma = SigmaSpace.InitNoiseSigma(_sigmas, c.TimestepSpacing);
        }

        public override double InputScale(int i) => SigmaSpace.InputScale(_sigmas[i]);

        public override (double From, double To) Levels(int i) => (_sigmas[i], _sigmas[i + 1]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            double sigma = _sigmas[i], dt = _sigmas[i + 1] - sigma;
            var x0 = SigmaSpace.X0(_prediction, sigma, sample, output);
            new LinearForm().Add(1, sample).Add(dt, SigmaSpace.Derivative(sample, x0, sigma)).WriteTo(ctx.Backend, sample);
        }
    }
}
