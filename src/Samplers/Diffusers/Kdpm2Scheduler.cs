using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' KDPM2DiscreteScheduler (k-diffusion's DPM-Solver-2): an Euler step to the log-midpoint σ_mid = √(σσ')
/// (diffusers' exp(lerp(log σ, log σ_prev, ½)) in float32), a network call there, then x' = x + (σ' − σ)·d_mid from the
/// step's start; the last step, to 0, is Euler. With Karras σ the timesteps are rounded to integers (the midpoints are
/// not), as diffusers does.
/// </summary>
internal sealed class Kdpm2Scheduler : DiffusersScheduler
{
    internal Kdpm2Scheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction");
        CheckSigmaGrids();
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly string _prediction;
        private readonly float[] _sigmas, _mid;
        private Tensor? _first;

        public Run(Kdpm2Scheduler s, int steps)
        {
            var c = s.Config;
            var tables = s.Tables.Value;
            var timesteps = Grids.Fractional(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            var sigmas = Grids.Interp(timesteps, tables.Sigmas);
            if (s.ConvertSigmas(sigmas[^1], sigmas[0], steps, configRange: false) is { } converted)
            {
                sigmas = converted;
                timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
                if (c.UseKarrasSigmas) timesteps = timesteps.Select(Numpy.Round).ToArray();
            }
            var f = SigmaSpace.F32([.. sigmas, 0]);
            // σ_mid[k] = exp(log σ_k − (log σ_k − log σ_{k−1})/2) for k ≥ 1 (0 for the final σ = 0; entry 0 is never used).
            var mid = new float[f.Length];
            mid[0] = float.NaN;
            for (int k = 1; k < f.Length; k++)
            {
                // torch.lerp(log σ_k, log σ_{k−1}, 0.5) = end − (end − start)·0.5, all in float32.
                float start = (float)Math.Log(f[k]), end = (float)Math.Log(f[k - 1]);
                mid[k] = f[k] == 0 ? 0 : (float)Math.Exp(end - (end - start) * 0.5f);
            }
            _sigmas = [f[0], .. f[1..].SelectMany(v => new[] { v, v }), f[^1]];
            _mid = [mid[0], .. mid[1..].SelectMany(v => new[] { v, v }), mid[^1]];
            var midTimesteps = mid[1..^1].Select(v => Numpy.SigmaToT32(v, tables.LogSigmas)).ToArray();
            var calls = new List<float> { (float)timesteps[0] };
            for (int k = 1; k < timesteps.Length; k++)
            {
                calls.Add((float)midTimesteps[k - 1]);
                calls.Add((float)timesteps[k]);
            }
            Timesteps = [.. calls];
            s.CheckFirstTimestep(Timesteps.Select(t => (double)t).ToArray());
            _prediction = c.PredictionType;
            InitNoiseSigma = SigmaSpace.InitNoiseSigma(_sigmas, c.TimestepSpacing);
        }

        public override double InputScale(int i) => SigmaSpace.InputScale(i % 2 == 0 ? _sigmas[i] : _mid[i]);

        public override (double From, double To) Levels(int i) => i % 2 == 0 ? (_sigmas[i], _mid[i + 1]) : (_mid[i], _sigmas[i]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            if (i % 2 == 0)
            {
                // First order: to σ_mid, keeping the step's start.
                double sigma = _sigmas[i], mid = _mid[i + 1];
                _first ??= ctx.Like();
                b.Copy(sample, _first);
                var x0 = SigmaSpace.X0(_prediction, sigma, sample, output);
                new LinearForm().Add(1, sample).Add(mid - sigma, SigmaSpace.Derivative(sample, x0, sigma)).WriteTo(b, sample);
            }
            else
            {
                double sigma = _sigmas[i - 1], mid = _mid[i], next = _sigmas[i];
                var x0 = SigmaSpace.X0(_prediction, mid, sample, output);
                new LinearForm().Add(1, _first!).Add(next - sigma, SigmaSpace.Derivative(sample, x0, mid)).WriteTo(b, sample);
            }
        }
    }
}
