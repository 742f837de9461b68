using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' LMSDiscreteScheduler (k-diffusion's linear multistep): with dₖ = (xₖ − x̂₀ₖ)/σₖ and order
/// p = min(step + 1, 4), x' = x + Σⱼ cⱼ·d_{i−j}, cⱼ = ∫_σ^σ' Πₘ≠ⱼ (τ − σ_{i−m})/(σ_{i−j} − σ_{i−m}) dτ. diffusers integrates
/// with scipy's quad (exact for these cubic polynomials up to roundoff); here Gauss–Legendre with 4 nodes, exact for them.
/// </summary>
internal sealed class LmsScheduler : DiffusersScheduler
{
    private const int MaxOrder = 4;

    internal LmsScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample");
        CheckSigmaGrids();
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly string _prediction;
        private readonly float[] _sigmas;
        private readonly List<Tensor> _derivatives = [];
        private readonly Queue<Tensor> _free = new();

        public Run(LmsScheduler s, int steps)
        {
            var c = s.Config;
            var tables = s.Tables.Value;
            var timesteps = Grids.Fractional(c.NumTrainTimesteps, steps, c.TimestepSpacing, c.StepsOffset);
            var sigmas = Grids.Interp(timesteps, tables.Sigmas);
            if (s.ConvertSigmas(sigmas[^1], sigmas[0], steps, configRange: false) is { } converted)
            {
                sigmas = converted;
                timesteps = Grids.SigmaToT(sigmas, tables.LogSigmas);
            }
            _sigmas = SigmaSpace.F32([.. sigmas, 0]);
            Timesteps = timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(timesteps);
            _prediction = c.PredictionType;
            InitNoiseSigma = SigmaSpace.InitNoiseSigma(_sigmas, c.TimestepSpacing);
        }

        public override double InputScale(int i) => SigmaSpace.InputScale(_sigmas[i]);

        public override (double From, double To) Levels(int i) => (_sigmas[i], _sigmas[i + 1]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            double sigma = _sigmas[i];
            var d = _free.Count > 0 ? _free.Dequeue() : ctx.Like();
            // This step's derivative enters the update as a form (unrounded); its stored copy feeds the later steps.
            var current = SigmaSpace.Derivative(sample, SigmaSpace.X0(_prediction, sigma, sample, output), sigma);
            current.WriteTo(b, d);
            _derivatives.Add(d);
            if (_derivatives.Count > MaxOrder) { _free.Enqueue(_derivatives[0]); _derivatives.RemoveAt(0); }
            int order = Math.Min(i + 1, MaxOrder);
            var next = new LinearForm().Add(1, sample).Add(Coefficient(order, i, 0), current);
            for (int j = 1; j < order; j++) next.Add(Coefficient(order, i, j), _derivatives[^(j + 1)]);
            next.WriteTo(b, sample);
        }

        /// <summary>∫ from σ_i to σ_{i+1} of the Lagrange basis polynomial of node σ_{i−j} over the nodes σ_i … σ_{i−order+1}.</summary>
        private double Coefficient(int order, int i, int j)
        {
            double Basis(double tau)
            {
                double p = 1;
                for (int k = 0; k < order; k++)
                    if (k != j) p *= (tau - _sigmas[i - k]) / ((double)_sigmas[i - j] - _sigmas[i - k]);
                return p;
            }
            // 4-point Gauss–Legendre: exact for polynomials of degree ≤ 7 (the basis has degree ≤ 3).
            ReadOnlySpan<double> nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
            ReadOnlySpan<double> weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];
            double a = _sigmas[i], bEnd = _sigmas[i + 1], half = (bEnd - a) / 2, mid = (bEnd + a) / 2, sum = 0;
            for (int q = 0; q < nodes.Length; q++) sum += weights[q] * Basis(mid + half * nodes[q]);
            return sum * half;
        }
    }
}
