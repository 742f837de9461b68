using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' DPMSolverSinglestepScheduler (Lu et al. 2022, singlestep): the grid's steps are grouped by the order list
/// ([1, 2, 3, 1, 2, 3, …] with diffusers' lower_order_final tail, forced on for step counts the order does not divide and
/// for a final σ = 0); a group restarts from its first sample, and its k-th step is the k-th order singlestep update from
/// there using the group's outputs (x̂₀ for dpmsolver++/sde-dpmsolver++, ε̂ for dpmsolver). The grid is always linspace
/// (the class has no timestep_spacing).
/// </summary>
internal sealed class DpmSolverSinglestepScheduler : DiffusersScheduler
{
    private static readonly string[] Algorithms = ["dpmsolver++", "sde-dpmsolver++", "dpmsolver"];

    internal DpmSolverSinglestepScheduler(SchedulerConfig config) : base(config)
    {
        Algorithm = CheckDpmSolverConfig(Algorithms);
        Require(!(Algorithm == "dpmsolver" && config.Thresholding), "thresholding",
            "with algorithm_type 'dpmsolver' fails in diffusers' DPMSolverSinglestepScheduler (it indexes its ᾱ table with a missing timestep)");
        Require(config.SolverOrder <= 3, "solver_order", $"{config.SolverOrder} is not supported (diffusers' singlestep solver has orders 1–3)");
        Midpoint = config.SolverType is not "heun";
    }

    internal string Algorithm { get; }
    internal bool Midpoint { get; }

    /// <summary>diffusers' get_order_list for <paramref name="steps"/> steps with the effective lower_order_final.</summary>
    internal int[] OrderList(int steps, bool lowerOrderFinal)
    {
        int order = Config.SolverOrder;
        List<int> orders;
        static IEnumerable<int> Repeat(int[] block, int times) => Enumerable.Repeat(block, Math.Max(times, 0)).SelectMany(b => b);
        if (lowerOrderFinal)
            orders = order switch
            {
                3 when steps % 3 == 0 => [.. Repeat([1, 2, 3], steps / 3 - 1), 1, 2, 1],
                3 when steps % 3 == 1 => [.. Repeat([1, 2, 3], steps / 3), 1],
                3 => [.. Repeat([1, 2, 3], steps / 3), 1, 2],
                2 when steps % 2 == 0 => [.. Repeat([1, 2], steps / 2 - 1), 1, 1],
                2 => [.. Repeat([1, 2], steps / 2), 1],
                _ => [.. Enumerable.Repeat(1, steps)],
            };
        else
            orders = order switch
            {
                3 => [.. Repeat([1, 2, 3], steps / 3)],
                2 => [.. Repeat([1, 2], steps / 2)],
                _ => [.. Enumerable.Repeat(1, steps)],
            };
        if (Config.FinalSigmasType == "zero") orders[^1] = 1;
        return [.. orders];
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly DpmSolverSinglestepScheduler _s;
        private readonly SchedulerConfig _c;
        private readonly SolverGrid _g;
        private readonly int[] _orders;
        private readonly Tensor?[] _outputs;
        private Tensor? _start, _noise;

        public Run(DpmSolverSinglestepScheduler s, int steps)
        {
            _s = s;
            _c = s.Config;
            var tables = s.Tables.Value;
            int T = _c.NumTrainTimesteps, clipped = tables.ClippedIndex(_c.LambdaMinClipped);
            var spaced = Numpy.Linspace(0, T - 1 - clipped, steps + 1).Select(Numpy.Round).Reverse().Take(steps).ToArray();
            var (sigmas, timesteps) = SolverGrid.Build(s, tables, spaced, steps, roundKarras: true, configRange: false);
            double final = _c.FinalSigmasType == "sigma_min" ? tables.SigmaMin : 0;
            _g = new SolverGrid(timesteps, SigmaSpace.F32([.. sigmas, final]));
            Timesteps = timesteps.Select(t => (float)t).ToArray();
            s.CheckFirstTimestep(Timesteps.Select(t => (double)t).ToArray());
            bool lowerOrderFinal = _c.LowerOrderFinal || steps % _c.SolverOrder != 0 || _c.FinalSigmasType == "zero";
            _orders = s.OrderList(steps, lowerOrderFinal);
            if (_orders.Length < _g.Steps)
                throw new ArgumentException($"DPMSolverSinglestepScheduler: its order list has {_orders.Length} entries for {_g.Steps} steps (diffusers fails here)");
            _outputs = new Tensor?[_c.SolverOrder];
        }

        public override (double From, double To) Levels(int i) => (_g.Sigmas[i], _g.Sigmas[i + 1]);

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            int count = _c.SolverOrder;
            var newest = _outputs[0] ?? ctx.Like();
            for (int k = 0; k < count - 1; k++) _outputs[k] = _outputs[k + 1];
            _outputs[count - 1] = newest;
            var current = Convert(i, output, sample, newest, ctx);
            if (_s.Algorithm == "sde-dpmsolver++")
            {
                _noise ??= ctx.Like();
                ctx.Noise(_noise, i);
            }
            int order = _orders[i];
            while (_outputs[count - order] is null) order--;
            if (order == 1)
            {
                _start ??= ctx.Like();
                b.Copy(sample, _start);
            }
            var x = order switch
            {
                1 => FirstOrder(i, _start!, current),
                2 => SecondOrder(i, _start!, current),
                _ => ThirdOrder(i, _start!, current),
            };
            x.WriteTo(b, sample);
        }

        /// <summary>convert_model_output into <paramref name="into"/>, returned as a form for this step's update.</summary>
        private LinearForm Convert(int i, Tensor output, Tensor sample, Tensor into, RunContext ctx)
        {
            if (_c.VarianceType is not null && _c.PredictionType == "epsilon" && output.Shape[1] > 3)
                throw _s.Error("variance_type", $"'{_c.VarianceType}' keeps the first 3 output channels in diffusers, which does not fit a {output.Shape[1]}-channel sample");
            var b = ctx.Backend;
            double alpha = _g.Alpha(i), sigmaT = _g.SigmaT(i);
            if (_s.Algorithm.EndsWith("++", StringComparison.Ordinal))
                return PredictionForms.WriteData(PredictionForms.Data(_c.PredictionType, alpha, sigmaT, sample, output), into, _c, ctx);
            var eps = PredictionForms.Noise(_c.PredictionType, alpha, sigmaT, sample, output);
            eps.WriteTo(b, into);
            return eps;
        }

        private Tensor M(int back) => _outputs[_c.SolverOrder - 1 - back]!;

        private LinearForm FirstOrder(int i, Tensor x0, LinearForm m)
        {
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), @as = _g.Alpha(i), ss = _g.SigmaT(i);
            double h = _g.Lambda(i + 1) - _g.Lambda(i);
            return _s.Algorithm switch
            {
                "dpmsolver++" => new LinearForm().Add(st / ss, x0).Add(-(at * (Math.Exp(-h) - 1.0)), m),
                "dpmsolver" => new LinearForm().Add(at / @as, x0).Add(-(st * (Math.Exp(h) - 1.0)), m),
                _ => new LinearForm().Add(st / ss * Math.Exp(-h), x0).Add(at * (1 - Math.Exp(-2.0 * h)), m).Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
            };
        }

        /// <summary>From the group's start at s1 = i − 1 over h = λ_t − λ_s1, with the midpoint evaluation at s0 = i.</summary>
        private LinearForm SecondOrder(int i, Tensor x, LinearForm m0)
        {
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as1 = _g.Alpha(i - 1), ss1 = _g.SigmaT(i - 1);
            double lt = _g.Lambda(i + 1), l0 = _g.Lambda(i), l1 = _g.Lambda(i - 1);
            double h = lt - l1, h0 = l0 - l1, r0 = h0 / h;
            Tensor m1 = M(1);
            var d0 = new LinearForm().Add(1, m1);
            var d1 = new LinearForm().Add(1.0 / r0, m0).Add(-1.0 / r0, m1);
            var y = new LinearForm();
            return (_s.Algorithm, _s.Midpoint) switch
            {
                ("dpmsolver++", true) => y.Add(st / ss1, x).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(-0.5 * (at * (Math.Exp(-h) - 1.0)), d1),
                ("dpmsolver++", false) => y.Add(st / ss1, x).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(at * ((Math.Exp(-h) - 1.0) / h + 1.0), d1),
                ("dpmsolver", true) => y.Add(at / as1, x).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-0.5 * (st * (Math.Exp(h) - 1.0)), d1),
                ("dpmsolver", false) => y.Add(at / as1, x).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-(st * ((Math.Exp(h) - 1.0) / h - 1.0)), d1),
                (_, true) => y.Add(st / ss1 * Math.Exp(-h), x).Add(at * (1 - Math.Exp(-2.0 * h)), d0).Add(0.5 * (at * (1 - Math.Exp(-2.0 * h))), d1)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
                _ => y.Add(st / ss1 * Math.Exp(-h), x).Add(at * (1 - Math.Exp(-2.0 * h)), d0).Add(at * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0), d1)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
            };
        }

        /// <summary>From the group's start at s2 = i − 2 over h = λ_t − λ_s2, with evaluations at s1 = i − 1 and s0 = i.</summary>
        private LinearForm ThirdOrder(int i, Tensor x, LinearForm m0)
        {
            double at = _g.Alpha(i + 1), st = _g.SigmaT(i + 1), as2 = _g.Alpha(i - 2), ss2 = _g.SigmaT(i - 2);
            double lt = _g.Lambda(i + 1), l0 = _g.Lambda(i), l1 = _g.Lambda(i - 1), l2 = _g.Lambda(i - 2);
            double h = lt - l2, h0 = l0 - l2, h1 = l1 - l2, r0 = h0 / h, r1 = h1 / h;
            Tensor m1 = M(1), m2 = M(2);
            var d0 = new LinearForm().Add(1, m2);
            var d10 = new LinearForm().Add(1.0 / r1, m1).Add(-1.0 / r1, m2);
            var d11 = new LinearForm().Add(1.0 / r0, m0).Add(-1.0 / r0, m2);
            var d1 = new LinearForm().Add(r0 / (r0 - r1), d10).Add(-r1 / (r0 - r1), d11);
            var d2 = new LinearForm().Add(2.0 / (r0 - r1), d11).Add(-2.0 / (r0 - r1), d10);
            var y = new LinearForm();
            return (_s.Algorithm, _s.Midpoint) switch
            {
                ("dpmsolver++", true) => y.Add(st / ss2, x).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(at * ((Math.Exp(-h) - 1.0) / h + 1.0), d11),
                ("dpmsolver++", false) => y.Add(st / ss2, x).Add(-(at * (Math.Exp(-h) - 1.0)), d0).Add(at * ((Math.Exp(-h) - 1.0) / h + 1.0), d1)
                    .Add(-(at * ((Math.Exp(-h) - 1.0 + h) / (h * h) - 0.5)), d2),
                ("dpmsolver", true) => y.Add(at / as2, x).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-(st * ((Math.Exp(h) - 1.0) / h - 1.0)), d11),
                ("dpmsolver", false) => y.Add(at / as2, x).Add(-(st * (Math.Exp(h) - 1.0)), d0).Add(-(st * ((Math.Exp(h) - 1.0) / h - 1.0)), d1)
                    .Add(-(st * ((Math.Exp(h) - 1.0 - h) / (h * h) - 0.5)), d2),
                (_, true) => y.Add(st / ss2 * Math.Exp(-h), x).Add(at * (1.0 - Math.Exp(-2.0 * h)), d0).Add(at * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0), d11)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
                _ => y.Add(st / ss2 * Math.Exp(-h), x).Add(at * (1.0 - Math.Exp(-2.0 * h)), d0).Add(at * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0), d1)
                    .Add(at * ((1.0 - Math.Exp(-2.0 * h) + -2.0 * h) / (-2.0 * h * (-2.0 * h)) - 0.5), d2)
                    .Add(st * Math.Sqrt(1.0 - Math.Exp(-2 * h)), _noise!),
            };
        }
    }
}
