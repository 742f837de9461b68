using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' DPMSolverMultistepScheduler (Lu et al. 2022): orders 1–3 over the last model outputs, converted to x̂₀
/// (dpmsolver++, sde-dpmsolver++) or ε̂ (dpmsolver, sde-dpmsolver), second order by the midpoint or heun coefficient,
/// with h = λ' − λ in λ = log α_t − log σ_t. The order drops to 1 on the last step when euler_at_final, when
/// lower_order_final and fewer than 15 steps, or when the grid ends on σ = 0, and to 2 on the one before under
/// lower_order_final with fewer than 15 steps. The update formulas are diffusers' as written (a repeated final σ gives
/// h = 0, hence NaN at orders 2 (heun) and 3, as in diffusers).
/// </summary>
internal sealed class DpmSolverMultistepScheduler : DiffusersScheduler
{
    private static readonly string[] Algorithms = ["dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"];

    internal DpmSolverMultistepScheduler(SchedulerConfig config) : base(config)
    {
        Algorithm = CheckDpmSolverConfig(Algorithms);
        Midpoint = config.SolverType is not "heun";
    }

    internal string Algorithm { get; }
    internal bool Midpoint { get; }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly DpmSolverMultistepScheduler _s;
        private readonly SchedulerConfig _c;
        private readonly SolverGrid _g;
        private readonly Tensor?[] _outputs;
        private int _lowerOrderNums;
        private Tensor? _noise, _x0;

        public Run(DpmSolverMultistepScheduler s, int steps)
        {
            _s = s;
            _c = s.Config;
            var tables = s.Tables.Value;
            int T = _c.NumTrainTimesteps, last = T - tables.ClippedIndex(_c.LambdaMinClipped);
            var spaced = Grids.Solver(T, last, steps, _c.TimestepSpacing, _c.StepsOffset).Select(t => (double)t).ToArray();
            bool round = _c.BetaSchedule != "squaredcos_cap_v2";
            var (sigmas, timesteps) = SolverGrid.Build(s, tables, spaced, steps, roundKarras: round, configRange: false, luLambdas: _c.UseLuLambdas && !_c.UseKarrasSigmas);
            double final = _c.FinalSigmasType == "sigma_min" ? tables.SigmaMin : 0;
            _g = new SolverGrid(timesteps, SigmaSpace.F32([.. sigmas, final]));
            Timesteps = timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(Timesteps.Select(t => (double)t).ToArray());
            _outputs = new Tensor?[_c.SolverOrder];
        }

        public override (double From, double To) Levels(int i) => (_g.Sigmas[i], _g.Sigmas[i + 1]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            int n = _g.Steps, order = _c.SolverOrder;
            bool lowerFinal = i == n - 1 && (_c.EulerAtFinal || (_c.LowerOrderFinal && n < 15) || _c.FinalSigmasType == "zero");
            bool lowerSecond = i == n - 2 && _c.LowerOrderFinal && n < 15;
            // Rotate the history (the oldest tensor is reused for the new output).
            var newest = _outputs[0] ?? ctx.Like();
            for (int k = 0; k < order - 1; k++) _outputs[k] = _outputs[k + 1];
            _outputs[order - 1] = newest;
            // The current output enters this step's update as a form in (sample, output), so it is not rounded to float32
            // before it is combined (a stored copy feeds the later steps).
            var current = Convert(i, output, sample, newest, ctx);
            bool sde = _s.Algorithm.StartsWith("sde", StringComparison.Ordinal);
            if (sde)
            {
                _noise ??= ctx.Like();
                ctx.Noise(_noise, i);
            }
            LinearForm next;
            if (order == 1 || _lowerOrderNums < 1 || lowerFinal) next = FirstOrder(i, sample, current);
            else if (order == 2 || _lowerOrderNums < 2 || lowerSecond) next = SecondOrder(i, sample, current);
            else next = ThirdOrder(i, sample, current);
            next.WriteTo(b, sample);
            if (_lowerOrderNums < order) _lowerOrderNums++;
        }

        /// <summary>convert_model_output: x̂₀ for the ++ algorithms (thresholded when asked), ε̂ for the others, written to
        /// <paramref name="into"/> and returned as a form.</summary>
        private LinearForm Convert(int i, Tensor output, Tensor sample, Tensor into, RunContext ctx)
        {
            if (_c.VarianceType is not null && _c.PredictionType == "epsilon" && output.Shape[1] > 3)
                throw _s.Error("variance_type", $"'{_c.VarianceType}' keeps the first 3 output channels in diffusers, which does not fit a {output.Shape[1]}-channel sample");
            var b = ctx.Backend;
            double alpha = _g.Alpha(i), sigmaT = _g.SigmaT(i);
            bool dataPrediction = _s.Algorithm.EndsWith("++", StringComparison.Ordinal);
            if (dataPrediction) return PredictionForms.WriteData(PredictionForms.Data(_c.PredictionType, alpha, sigmaT, sample, output), into, _c, ctx);
            var eps = PredictionForms.Noise(_c.PredictionType, alpha, sigmaT, sample, output);
            if (!_c.Thresholding)
            {
                eps.WriteTo(b, into);
                return eps;
            }
            // x̂₀ from ε̂ (as diffusers: from the ε̂ it has), thresholded, back to ε̂.
            _x0 ??= ctx.Like();
            eps.WriteTo(b, into);
            new LinearForm().Add(1 / alpha, sample).Add(-sigmaT / alpha, into).WriteTo(b, _x0);
            ctx.Threshold(_x0, _c.DynamicThresholdingRatio, _c.SampleMaxValue);
            new LinearForm().Add(1 / sigmaT, sample).Add(-alpha / sigmaT, _x0).WriteTo(b, into);
            return new LinearForm().Add(1, into);
        }

        private Tensor M(int back) => _outputs[_c.SolverOrder - 1 - back]!;

        private LinearForm FirstOrder(int i, Tensor sample, LinearForm m)
        {
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as0 = _g.Alpha(i), ss0 = _g.SigmaT(i);
            double h = _g.Lambda(i + 1) - _g.Lambda(i);
            return _s.Algorithm switch
            {
                "dpmsolver++" => new LinearForm().Add(st / ss0, sample).Add(-(at * (Math.Exp(-h) - 1.0)), m),
                "dpmsolver" => new LinearForm().Add(at / as0, sample).Add(-(st * (Math.Exp(h) - 1.0)), m),
                "sde-dpmsolver++" => new LinearForm().Add(st / ss0 * Math.Exp(-h), sample).Add(at * (1 - Math.Exp(-2.0 * h)), m)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
                _ => new LinearForm().Add(at / as0, sample).Add(-2.0 * (st * (Math.Exp(h) - 1.0)), m)
                    .Add(st * Math.Sqrt(Math.Exp(2 * h) - 1.0), _noise!),
            };
        }

        private LinearForm SecondOrder(int i, Tensor sample, LinearForm m0)
        {
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as0 = _g.Alpha(i), ss0 = _g.SigmaT(i);
            double lt = _g.Lambda(i + 1), l0 = _g.Lambda(i), l1 = _g.Lambda(i - 1);
            double h = lt - l0, h0 = l0 - l1, r0 = h0 / h;
            Tensor m1 = M(1);
            var d0 = new LinearForm().Add(1, m0);
            var d1 = new LinearForm().Add(1.0 / r0, m0).Add(-1.0 / r0, m1);
            var x = new LinearForm();
            switch (_s.Algorithm, _s.Midpoint)
            {
                case ("dpmsolver++", true):
                    return x.Add(st / ss0, sample).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(-0.5 * (at * (Math.Exp(-h) - 1.0)), d1);
                case ("dpmsolver++", false):
                    return x.Add(st / ss0, sample).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(at * ((Math.Exp(-h) - 1.0) / h + 1.0), d1);
                case ("dpmsolver", true):
                    return x.Add(at / as0, sample).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-0.5 * (st * (Math.Exp(h) - 1.0)), d1);
                case ("dpmsolver", false):
                    return x.Add(at / as0, sample).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-(st * ((Math.Exp(h) - 1.0) / h - 1.0)), d1);
                case ("sde-dpmsolver++", true):
                    return x.Add(st / ss0 * Math.Exp(-h), sample).Add(at * (1 - Math.Exp(-2.0 * h)), d0).Add(0.5 * (at * (1 - Math.Exp(-2.0 * h))), d1)
                        .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!);
                case ("sde-dpmsolver++", false):
                    return x.Add(st / ss0 * Math.Exp(-h), sample).Add(at * (1 - Math.Exp(-2.0 * h)), d0).Add(at * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0), d1)
                        .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!);
                case ("sde-dpmsolver", true):
                    return x.Add(at / as0, sample).Add(-2.0 * (st * (Math.Exp(h) - 1.0)), d0).Add(-(st * (Math.Exp(h) - 1.0)), d1)
                        .Add(st * Math.Sqrt(Math.Exp(2 * h) - 1.0), _noise!);
                default:
                    return x.Add(at / as0, sample).Add(-2.0 * (st * (Math.Exp(h) - 1.0)), d0).Add(-2.0 * (st * ((Math.Exp(h) - 1.0) / h - 1.0)), d1)
                        .Add(st * Math.Sqrt(Math.Exp(2 * h) - 1.0), _noise!);
            }
        }

        private LinearForm ThirdOrder(int i, Tensor sample, LinearForm m0)
        {
            if (_s.Algorithm == "sde-dpmsolver")
                throw _s.Error("solver_order", "3 with algorithm_type 'sde-dpmsolver' has no third-order update in diffusers (its step fails there)");
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as0 = _g.Alpha(i), ss0 = _g.SigmaT(i);
            double lt = _g.Lambda(i + 1), l0 = _g.Lambda(i), l1 = _g.Lambda(i - 1), l2 = _g.Lambda(i - 2);
            double h = lt - l0, h0 = l0 - l1, h1 = l1 - l2, r0 = h0 / h, r1 = h1 / h;
            Tensor m1 = M(1), m2 = M(2);
            var d10 = new LinearForm().Add(1.0 / r0, m0).Add(-1.0 / r0, m1);
            var d11 = new LinearForm().Add(1.0 / r1, m1).Add(-1.0 / r1, m2);
            var d1 = new LinearForm().Add(1, d10).Add(r0 / (r0 + r1), d10).Add(-(r0 / (r0 + r1)), d11);
            var d2 = new LinearForm().Add(1.0 / (r0 + r1), d10).Add(-(1.0 / (r0 + r1)), d11);
            var x = new LinearForm();
            return _s.Algorithm switch
            {
                "dpmsolver++" => x.Add(st / ss0, sample).Add(-(at * (Math.Exp(-h) - 1.0)), m0).Add(at * ((Math.Exp(-h) - 1.0) / h + 1.0), d1)
                    .Add(-(at * ((Math.Exp(-h) - 1.0 + h) / (h * h) - 0.5)), d2),
                "dpmsolver" => x.Add(at / as0, sample).Add(-(st * (Math.Exp(h) - 1.0)), m0).Add(-(st * ((Math.Exp(h) - 1.0) / h - 1.0)), d1)
                    .Add(-(st * ((Math.Exp(h) - 1.0 - h) / (h * h) - 0.5)), d2),
                _ => x.Add(st / ss0 * Math.Exp(-h), sample).Add(at * (1.0 - Math.Exp(-2.0 * h)), m0).Add(at * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0), d1)
                    .Add(at * ((1.0 - Math.Exp(-2.0 * h) - 2.0 * h) / (2.0 * h * (2.0 * h)) - 0.5), d2)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
            };
        }
    }
}
