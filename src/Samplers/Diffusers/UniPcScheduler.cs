using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' UniPCMultistepScheduler (Zhao et al. 2023): UniP predictor of order p = min(solver_order, steps left when
/// lower_order_final, steps done + 1) and, at the next call, the UniC corrector of that order with the new output, both
/// with B(h) = −h (bh1) or e^{−h} − 1 (bh2) in data (predict_x0) or noise prediction; ρ of UniP is ½ at order 2 and
/// solves the order-(p−1) system above; UniC solves the order-p system (½ at order 1). The corrector is skipped after the
/// steps listed in disable_corrector and after the last step. diffusers' formulas as written: a final σ = 0 with bh1,
/// noise prediction or lower_order_final off gives NaN there (as in diffusers).
/// </summary>
internal sealed class UniPcScheduler : DiffusersScheduler
{
    internal UniPcScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample");
        CheckSigmaGrids();
        CheckNoFlow();
        Require(config.SolverType is "bh1" or "bh2" or "midpoint" or "heun" or "logrho", "solver_type", $"'{config.SolverType}' is not supported (bh1, bh2; midpoint, heun and logrho read as bh2)");
        Require(!config.HasSolverP, "solver_p", "must be null (a scheduler object cannot be reproduced from a config file)");
        Require(!config.UseDynamicShifting, "use_dynamic_shifting", "true needs the pipeline's shift μ (diffusers refuses set_timesteps without it)");
        Require(config.ShiftTerminal is null, "shift_terminal", "is only supported with use_flow_sigmas (diffusers refuses it)");
        // Order p combines the sample, the current output (a form in sample and network output) and p − 1 earlier outputs;
        // the backend's linear combination takes 8 terms, so p ≤ 5 (diffusers uses 1–3 in practice).
        Require(config.SolverOrder <= 5, "solver_order", $"{config.SolverOrder} is not supported here (orders 1–5)");
        Bh1 = config.SolverType == "bh1";
    }

    internal bool Bh1 { get; }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly UniPcScheduler _s;
        private readonly SchedulerConfig _c;
        private readonly SolverGrid _g;
        private readonly Tensor?[] _outputs;
        private int _lowerOrderNums, _thisOrder;
        private Tensor? _last;
        private bool _hasLast;
        private Tensor? _converted, _corrected;

        public Run(UniPcScheduler s, int steps)
        {
            _s = s;
            _c = s.Config;
            var tables = s.Tables.Value;
            int T = _c.NumTrainTimesteps;
            var spaced = Grids.Solver(T, T, steps, _c.TimestepSpacing, _c.StepsOffset).Select(t => (double)t).ToArray();
            var (sigmas, timesteps) = SolverGrid.Build(s, tables, spaced, steps, roundKarras: true, configRange: true);
            double final = _c.FinalSigmasType == "zero" ? 0 : s.SigmaGrid == "none" ? tables.SigmaMin : sigmas[^1];
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
            int order = _c.SolverOrder;
            bool useCorrector = i > 0 && !_c.DisableCorrector.Contains(i - 1) && _hasLast;
            _converted ??= ctx.Like();
            // The converted output enters this step's updates as a form in (sample, output), unrounded; its stored copy
            // feeds the later steps. The corrected sample goes aside so that the form's sample stays the uncorrected one.
            var current = Convert(i, output, sample, _converted, ctx);
            var x = sample;
            if (useCorrector)
            {
                _corrected ??= ctx.Like();
                Corrector(i, current).WriteTo(b, _corrected);
                x = _corrected;
            }
            var newest = _outputs[0] ?? ctx.Like();
            for (int k = 0; k < order - 1; k++) _outputs[k] = _outputs[k + 1];
            _outputs[order - 1] = newest;
            b.Copy(_converted, newest);
            int thisOrder = _c.LowerOrderFinal ? Math.Min(order, _g.Steps - i) : order;
            _thisOrder = Math.Min(thisOrder, _lowerOrderNums + 1);
            _last ??= ctx.Like();
            b.Copy(x, _last);
            _hasLast = true;
            var (form, nan) = Predictor(i, x, current);
            if (nan) b.Fill(sample, float.NaN);
            else form.WriteTo(b, sample);
            if (_lowerOrderNums < order) _lowerOrderNums++;
        }

        private LinearForm Convert(int i, Tensor output, Tensor sample, Tensor into, RunContext ctx)
        {
            double alpha = _g.Alpha(i), sigmaT = _g.SigmaT(i);
            if (_c.PredictX0)
                return PredictionForms.WriteData(PredictionForms.Data(_c.PredictionType, alpha, sigmaT, sample, output), into, _c, ctx);
            var eps = PredictionForms.Noise(_c.PredictionType, alpha, sigmaT, sample, output);
            eps.WriteTo(ctx.Backend, into);
            return eps;
        }

        /// <summary>hφ₁ = expm1(hh) and B(h) with hh = −h (data prediction) or h, and the right-hand sides bᵢ = hφᵢ·i!/B(h), i = 1 … order.</summary>
        private (double HPhi1, double Bh, double[] Rhs) Coefficients(double h, int order)
        {
            double hh = _c.PredictX0 ? -h : h;
            double hPhi1 = Expm1(hh), hPhiK = hPhi1 / hh - 1, factorial = 1;
            double bh = _s.Bh1 ? hh : hPhi1;
            var rhs = new double[order];
            for (int k = 1; k <= order; k++)
            {
                rhs[k - 1] = hPhiK * factorial / bh;
                factorial *= k + 1;
                hPhiK = hPhiK / hh - 1 / factorial;
            }
            return (hPhi1, bh, rhs);
        }

        /// <summary>e^v − 1 without cancellation for small v (torch.expm1).</summary>
        private static double Expm1(double v) => Math.Abs(v) < 1e-5 ? v + v * v / 2 + v * v * v / 6 : Math.Exp(v) - 1;

        /// <summary>multistep_uni_p_bh_update from the current sample over σ_i → σ_{i+1}.</summary>
        private (LinearForm Form, bool NaN) Predictor(int i, Tensor x, LinearForm m0)
        {
            int order = _thisOrder;
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as0 = _g.Alpha(i), ss0 = _g.SigmaT(i);
            double l0 = _g.Lambda(i), h = _g.Lambda(i + 1) - l0;
            var (hPhi1, bh, rhs) = Coefficients(h, order);
            var form = _c.PredictX0
                ? new LinearForm().Add(st / ss0, x).Add(-(at * hPhi1), m0)
                : new LinearForm().Add(at / as0, x).Add(-(st * hPhi1), m0);
            double scale = _c.PredictX0 ? at * bh : st * bh;
            if (order == 1) return (form, double.IsNaN(scale * 0.0)); // pred_res = 0: diffusers still multiplies it by B(h)
            var r = new double[order - 1];
            var d = new LinearForm[order - 1];
            for (int k = 1; k < order; k++)
            {
                r[k - 1] = (_g.Lambda(i - k) - l0) / h;
                d[k - 1] = new LinearForm().Add(1 / r[k - 1], M(k)).Add(-1 / r[k - 1], m0);
            }
            double[] rho = order == 2 ? [0.5] : Solve([.. r, 1], rhs, order - 1);
            for (int k = 0; k < order - 1; k++) form.Add(-scale * rho[k], d[k]);
            return (form, false);
        }

        /// <summary>multistep_uni_c_bh_update: redoes σ_{i−1} → σ_i from the kept sample with the new output <paramref name="modelT"/>.</summary>
        private LinearForm Corrector(int i, LinearForm modelT)
        {
            int order = _thisOrder;
            double at = _g.Alpha(i), st = _g.SigmaT(i), as0 = _g.Alpha(i - 1), ss0 = _g.SigmaT(i - 1);
            double l0 = _g.Lambda(i - 1), h = _g.Lambda(i) - l0;
            var m0 = M(0);
            var (hPhi1, bh, rhs) = Coefficients(h, order);
            var form = _c.PredictX0
                ? new LinearForm().Add(st / ss0, _last!).Add(-(at * hPhi1), m0)
                : new LinearForm().Add(at / as0, _last!).Add(-(st * hPhi1), m0);
            double scale = _c.PredictX0 ? at * bh : st * bh;
            var r = new double[order];
            var d = new LinearForm[order - 1];
            for (int k = 1; k < order; k++)
            {
                r[k - 1] = (_g.Lambda(i - (k + 1)) - l0) / h;
                d[k - 1] = new LinearForm().Add(1 / r[k - 1], M(k)).Add(-1 / r[k - 1], m0);
            }
            r[order - 1] = 1;
            double[] rho = order == 1 ? [0.5] : Solve(r, rhs, order);
            for (int k = 0; k < order - 1; k++) form.Add(-scale * rho[k], d[k]);
            form.Add(-scale * rho[order - 1], new LinearForm().Add(1, modelT).Add(-1, m0));
            return form;
        }

        /// <summary>
        /// torch.linalg.solve of the n×n system R ρ = b with R[row, col] = r_col^row (the leading block of the rks
        /// Vandermonde matrix). Gaussian elimination with partial pivoting; a singular matrix is the error diffusers raises.
        /// </summary>
        private static double[] Solve(double[] rks, double[] rhs, int n)
        {
            var a = new double[n, n];
            var y = new double[n];
            for (int row = 0; row < n; row++)
            {
                y[row] = rhs[row];
                for (int col = 0; col < n; col++) a[row, col] = Math.Pow(rks[col], row);
            }
            for (int c = 0; c < n; c++)
            {
                int p = c;
                for (int row = c + 1; row < n; row++) if (Math.Abs(a[row, c]) > Math.Abs(a[p, c])) p = row;
                if (a[p, c] == 0 || !double.IsFinite(a[p, c]))
                    throw new NumericalInstabilityException($"UniPCMultistepScheduler: the order-{n} coefficient system is singular at this step (diffusers' torch.linalg.solve fails here too)");
                for (int k = 0; k < n; k++) (a[c, k], a[p, k]) = (a[p, k], a[c, k]);
                (y[c], y[p]) = (y[p], y[c]);
                for (int row = c + 1; row < n; row++)
                {
                    double f = a[row, c] / a[c, c];
                    for (int k = c; k < n; k++) a[row, k] -= f * a[c, k];
                    y[row] -= f * y[c];
                }
            }
            var result = new double[n];
            for (int row = n - 1; row >= 0; row--)
            {
                double sum = y[row];
                for (int k = row + 1; k < n; k++) sum -= a[row, k] * result[k];
                result[row] = sum / a[row, row];
            }
            return result;
        }
    }
}
