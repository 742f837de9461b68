using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' DEISMultistepScheduler (Zhang &amp; Chen 2022, log-ρ): multistep in ρ = σ_t/α_t on the ε̂ of the last
/// 1–3 outputs, x' = α'(x/α + Σₖ cₖ ε̂ₖ) with cₖ the integrals of the Lagrange basis in log ρ (diffusers' ind_fn). The grid
/// ends on σ_min (a Karras/exponential/beta grid repeats its last σ, a no-op step); lower_order_final drops to orders 1
/// and 2 on the last two of fewer than 15 steps.
/// </summary>
internal sealed class DeisScheduler : DiffusersScheduler
{
    internal DeisScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample");
        CheckSigmaGrids();
        CheckNoFlow();
        Require(config.AlgorithmType is "deis" or "dpmsolver" or "dpmsolver++", "algorithm_type", $"'{config.AlgorithmType}' is not supported (deis; dpmsolver and dpmsolver++ read as deis)");
        Require(config.SolverType is "logrho" or "midpoint" or "heun" or "bh1" or "bh2", "solver_type", $"'{config.SolverType}' is not supported (logrho; midpoint, heun, bh1 and bh2 read as logrho)");
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly SchedulerConfig _c;
        private readonly SolverGrid _g;
        private readonly Tensor?[] _outputs;
        private int _lowerOrderNums;

        public Run(DeisScheduler s, int steps)
        {
            _c = s.Config;
            var tables = s.Tables.Value;
            int T = _c.NumTrainTimesteps;
            var spaced = Grids.Solver(T, T, steps, _c.TimestepSpacing, _c.StepsOffset).Select(t => (double)t).ToArray();
            var (sigmas, timesteps) = SolverGrid.Build(s, tables, spaced, steps, roundKarras: true, configRange: false);
            double final = s.SigmaGrid == "none" ? tables.SigmaMin : sigmas[^1];
            _g = new SolverGrid(timesteps, SigmaSpace.F32([.. sigmas, final]));
            Timesteps = timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(Timesteps.Select(t => (double)t).ToArray());
            _outputs = new Tensor?[_c.SolverOrder];
        }

        public override (double From, double To) Levels(int i) => (_g.Sigmas[i], _g.Sigmas[i + 1]);

        private Tensor M(int back) => _outputs[_c.SolverOrder - 1 - back]!;

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            int n = _g.Steps, order = _c.SolverOrder;
            bool lowerFinal = i == n - 1 && _c.LowerOrderFinal && n < 15;
            bool lowerSecond = i == n - 2 && _c.LowerOrderFinal && n < 15;
            var newest = _outputs[0] ?? ctx.Like();
            for (int k = 0; k < order - 1; k++) _outputs[k] = _outputs[k + 1];
            _outputs[order - 1] = newest;
            var m0 = Convert(i, output, sample, newest, ctx);
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as0 = _g.Alpha(i);
            LinearForm next;
            if (order == 1 || _lowerOrderNums < 1 || lowerFinal)
            {
                double h = _g.Lambda(i + 1) - _g.Lambda(i);
                next = new LinearForm().Add(at / as0, sample).Add(-(st * (Math.Exp(h) - 1.0)), m0);
            }
            else if (order == 2 || _lowerOrderNums < 2 || lowerSecond)
            {
                double rt = Rho(i + 1), r0 = Rho(i), r1 = Rho(i - 1);
                double c1 = Ind(rt, r0, r1) - Ind(r0, r0, r1), c2 = Ind(rt, r1, r0) - Ind(r0, r1, r0);
                next = new LinearForm().Add(at / as0, sample).Add(at * c1, m0).Add(at * c2, M(1));
            }
            else
            {
                double rt = Rho(i + 1), r0 = Rho(i), r1 = Rho(i - 1), r2 = Rho(i - 2);
                double c1 = Ind3(rt, r0, r1, r2) - Ind3(r0, r0, r1, r2);
                double c2 = Ind3(rt, r1, r2, r0) - Ind3(r0, r1, r2, r0);
                double c3 = Ind3(rt, r2, r0, r1) - Ind3(r0, r2, r0, r1);
                next = new LinearForm().Add(at / as0, sample).Add(at * c1, m0).Add(at * c2, M(1)).Add(at * c3, M(2));
            }
            next.WriteTo(b, sample);
            if (_lowerOrderNums < order) _lowerOrderNums++;
        }

        private double Rho(int i) => _g.SigmaT(i) / _g.Alpha(i);

        /// <summary>diffusers' second-order ind_fn: ∫ of the log-ρ Lagrange basis (node b against c) in closed form.</summary>
        private static double Ind(double t, double b, double c) => t * (-Math.Log(c) + Math.Log(t) - 1) / (Math.Log(b) - Math.Log(c));

        /// <summary>diffusers' third-order ind_fn.</summary>
        private static double Ind3(double t, double b, double c, double d)
        {
            double lt = Math.Log(t), lc = Math.Log(c), ld = Math.Log(d), lb = Math.Log(b);
            double numerator = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
            return numerator / ((lb - lc) * (lb - ld));
        }

        /// <summary>convert_model_output: x̂₀ from the prediction type (thresholded when asked), then ε̂ = (x − α x̂₀)/σ_t.</summary>
        private LinearForm Convert(int i, Tensor output, Tensor sample, Tensor into, RunContext ctx)
        {
            var b = ctx.Backend;
            double alpha = _g.Alpha(i), sigmaT = _g.SigmaT(i);
            var x0 = PredictionForms.Data(_c.PredictionType, alpha, sigmaT, sample, output);
            if (!_c.Thresholding)
            {
                var eps = new LinearForm().Add(1 / sigmaT, sample).Add(-alpha / sigmaT, x0);
                eps.WriteTo(b, into);
                return eps;
            }
            x0.WriteTo(b, into);
            ctx.Threshold(into, _c.DynamicThresholdingRatio, _c.SampleMaxValue);
            new LinearForm().Add(1 / sigmaT, sample).Add(-alpha / sigmaT, into).WriteTo(b, into);
            return new LinearForm().Add(1, into);
        }
    }
}
