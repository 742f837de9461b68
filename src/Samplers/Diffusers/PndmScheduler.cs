using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' PNDMScheduler (Liu et al. 2022): pseudo Runge–Kutta warm-up (three 4-call steps whose midpoints sit at
/// t − (T // N) // 2, weights 1/6, 1/3, 1/3, 1/6 on the raw model outputs) then PLMS (Adams–Bashforth on the raw outputs,
/// orders 1–4); with skip_prk_steps, PLMS from the start with diffusers' improved-Euler second call at the same timestep.
/// Every update is the DDIM-like transfer from (x, t) to t' of an ε (a v output is turned into ε with the x and t of
/// that transfer). Timesteps, counters and the t ± T // N arithmetic follow diffusers exactly, including on grids whose
/// spacing is not T // N.
/// </summary>
internal sealed class PndmScheduler : DiffusersScheduler
{
    internal PndmScheduler(SchedulerConfig config) : base(config)
    {
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction");
    }

    private protected override DiffusersRun CreateRun(int steps) => new Run(this, steps);

    private sealed class Run : DiffusersRun
    {
        private readonly PndmScheduler _s;
        private readonly float[] _ac;
        private readonly int[] _prk, _all;
        private readonly int _ratio;
        private readonly List<Tensor> _ets = [];
        private readonly Queue<Tensor> _free = new();
        private Tensor? _curOutput, _curSample;
        private bool _curOutputZero = true, _curSampleSet;

        public Run(PndmScheduler s, int steps)
        {
            _s = s;
            var c = s.Config;
            int T = c.NumTrainTimesteps;
            _ac = s.Tables.Value.AlphasCumprod;
            _ratio = T / steps;
            // _timesteps, increasing.
            int[] ts = c.TimestepSpacing switch
            {
                "linspace" => Numpy.Linspace(0, T - 1, steps).Select(v => (int)Numpy.Round(v)).ToArray(),
                "leading" => Enumerable.Range(0, steps).Select(i => i * _ratio + c.StepsOffset).ToArray(),
                _ => Numpy.Arange(T, 0, -((double)T / steps)).Select(v => (int)Numpy.Round(v)).Reverse().Select(v => v - 1).ToArray(),
            };
            if (c.SkipPrkSteps)
            {
                _prk = [];
                // concat(ts[:-1], ts[-2:-1], ts[-1:]) reversed
                var plms = ts[..^1].Concat(ts.Length >= 2 ? [ts[^2]] : []).Append(ts[^1]).Reverse().ToArray();
                _all = plms;
            }
            else
            {
                if (ts.Length < 4)
                    throw new ArgumentException($"PNDMScheduler: the Runge–Kutta warm-up needs at least 4 steps, found {ts.Length} (diffusers fails on its timestep arithmetic; set skip_prk_steps or use more steps)");
                int half = _ratio / 2;
                var last4 = ts[^4..].SelectMany(t => new[] { t, t + half }).ToArray();
                var prk = last4[..^1].SelectMany(t => new[] { t, t }).ToArray()[1..^1];
                Array.Reverse(prk);
                _prk = prk;
                _all = [.. prk, .. ts[..^3].Reverse()];
            }
            if (_all.Concat(_prk).Any(t => t >= T))
                throw new ArgumentException($"PNDMScheduler: steps_offset {c.StepsOffset} puts a timestep past num_train_timesteps ({T}) at {steps} steps");
            Timesteps = _all.Select(t => (float)t).ToArray();
        }

        /// <summary>ᾱ at t, or past the end (t &lt; 0) 1 or ᾱ₀ per set_alpha_to_one.</summary>
        private double Alpha(int t) => t >= 0 ? _ac[t] : _s.Config.SetAlphaToOne ? 1.0 : _ac[0];

        /// <summary>alphas_cumprod[t] with Python's indexing (trailing spacing can give t = −1, which reads the last entry).</summary>
        private double At(int t) => _ac[t >= 0 ? t : _ac.Length + t];

        public override (double From, double To) Levels(int i) => (SigmaOf(At(_all[i])), i + 1 < _all.Length ? SigmaOf(At(_all[i + 1])) : SigmaOf(Alpha(-1)));

        private Tensor Take(RunContext ctx) => _free.Count > 0 ? _free.Dequeue() : ctx.Like();

        internal override void Step(int i, Tensor output, Tensor sample, RunContext ctx)
        {
            int counter = i, timestep = _all[i];
            if (counter < _prk.Length && !_s.Config.SkipPrkSteps) StepPrk(counter, timestep, output, sample, ctx);
            else StepPlms(counter, timestep, output, sample, ctx);
        }

        private void StepPrk(int counter, int timestep, Tensor output, Tensor sample, RunContext ctx)
        {
            int diff = counter % 2 == 1 ? 0 : _ratio / 2;
            int prev = timestep - diff;
            int t = _prk[counter / 4 * 4];
            var b = ctx.Backend;
            _curOutput ??= ctx.Like();
            LinearForm model;
            switch (counter % 4)
            {
                case 0:
                    Accumulate(1.0 / 6, output, b);
                    var e = Take(ctx);
                    b.Copy(output, e);
                    _ets.Add(e);
                    _curSample ??= ctx.Like();
                    b.Copy(sample, _curSample);
                    _curSampleSet = true;
                    model = new LinearForm().Add(1, output);
                    break;
                case 1:
                case 2:
                    Accumulate(1.0 / 3, output, b);
                    model = new LinearForm().Add(1, output);
                    break;
                default:
                    model = new LinearForm().Add(1, _curOutput).Add(1.0 / 6, output);
                    _curOutputZero = true;
                    break;
            }
            var from = _curSampleSet ? _curSample! : sample;
            PrevSample(from, t, prev, model, ctx).WriteTo(b, sample);
        }

        /// <summary>cur_model_output += w·output (the accumulator starts at 0 after each group).</summary>
        private void Accumulate(double w, Tensor output, Backend b)
        {
            var form = new LinearForm().Add(w, output);
            if (!_curOutputZero) form.Add(1, _curOutput!);
            form.WriteTo(b, _curOutput!);
            _curOutputZero = false;
        }

        private void StepPlms(int counter, int timestep, Tensor output, Tensor sample, RunContext ctx)
        {
            var b = ctx.Backend;
            int prev = timestep - _ratio;
            if (counter != 1)
            {
                while (_ets.Count > 3) { _free.Enqueue(_ets[0]); _ets.RemoveAt(0); }
                var e = Take(ctx);
                b.Copy(output, e);
                _ets.Add(e);
            }
            else
            {
                prev = timestep;
                timestep += _ratio;
            }
            var from = sample;
            LinearForm model;
            int n = _ets.Count;
            if (n == 1 && counter == 0)
            {
                model = new LinearForm().Add(1, output);
                _curSample ??= ctx.Like();
                b.Copy(sample, _curSample);
                _curSampleSet = true;
            }
            else if (n == 1 && counter == 1)
            {
                model = new LinearForm().Add(0.5, output).Add(0.5, _ets[^1]);
                from = _curSample!;
                _curSampleSet = false;
            }
            else if (n == 2) model = new LinearForm().Add(1.5, _ets[^1]).Add(-0.5, _ets[^2]);
            else if (n == 3) model = new LinearForm().Add(23.0 / 12, _ets[^1]).Add(-16.0 / 12, _ets[^2]).Add(5.0 / 12, _ets[^3]);
            else model = new LinearForm().Add(55.0 / 24, _ets[^1]).Add(-59.0 / 24, _ets[^2]).Add(37.0 / 24, _ets[^3]).Add(-9.0 / 24, _ets[^4]);
            PrevSample(from, timestep, prev, model, ctx).WriteTo(b, sample);
        }

        /// <summary>
        /// _get_prev_sample: x' = √(ᾱ'/ᾱ)·x − (ᾱ' − ᾱ)·ε/(ᾱ√(1 − ᾱ') + √(ᾱ(1 − ᾱ)ᾱ')), with ε = √ᾱ·v + √(1 − ᾱ)·x for v-prediction.
        /// </summary>
        private LinearForm PrevSample(Tensor x, int t, int prev, LinearForm model, RunContext ctx)
        {
            double a = At(t), aPrev = Alpha(prev), b = 1 - a, bPrev = 1 - aPrev;
            var eps = _s.Config.PredictionType == "v_prediction" ? new LinearForm().Add(Math.Sqrt(a), model).Add(Math.Sqrt(b), x) : model;
            double denominator = a * Math.Sqrt(bPrev) + Math.Sqrt(a * b * aPrev);
            return new LinearForm().Add(Math.Sqrt(aPrev / a), x).Add(-(aPrev - a) / denominator, eps);
        }
    }
}
