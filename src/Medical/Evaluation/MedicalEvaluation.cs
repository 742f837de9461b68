using System.Diagnostics;
using System.Globalization;
using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Evaluation;

/// <summary>
/// The held-out evaluation of docs/medical.md as a library call: MRI at exact 4× and 8× over several mask seeds
/// against converged baselines tuned on validation phantoms (TV, TV with exact data consistency, wavelet ℓ1), lesion
/// and out-of-distribution sets, posterior-sample uncertainty with its calibration, oracle starts that separate the
/// prior from the method, the quality-vs-NFE trade-off, inpainting, super-resolution, denoising and anomaly detection
/// with metrics that do not saturate. Test phantoms come from <see cref="TestFirstIndex"/>, validation phantoms (every
/// tuned parameter and threshold) from <see cref="ValidationFirstIndex"/>: no parameter is chosen on a test image.
/// </summary>
public static class MedicalEvaluation
{
    /// <summary>First phantom index of the test sets (never used in training).</summary>
    public const long TestFirstIndex = 2_000_000_000;
    /// <summary>First phantom index of the validation sets.</summary>
    public const long ValidationFirstIndex = Reconstruction.ValidationFirstIndex;
    /// <summary>First index of the healthy negatives of the image-level anomaly AUROC.</summary>
    public const long HealthyFirstIndex = 2_500_000_000;
    /// <summary>First index of the out-of-distribution set.</summary>
    public const long OodFirstIndex = 4_000_000_000;

    /// <summary>Runs the tables of <paramref name="options"/>; <paramref name="studyModel"/> (same model, smaller batch) serves the NFE study when given.</summary>
    /// <remarks>
    /// Each diffusion call holds its model's <see cref="DiffusionModel.Exclusive"/> (through <see cref="DiffusionPrior"/>), so
    /// a model shared with other threads is serialized call by call. The run does not hold one lock throughout: with
    /// two models on one backend that would take locks out of order and could deadlock against another thread.
    /// </remarks>
    public static EvaluationReport Run(DiffusionModel model, EvaluationOptions options, Action<string>? log = null, DiffusionModel? studyModel = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        return new Runner(model, studyModel ?? model, options, log ?? (_ => { })).Run();
    }

    private sealed class Runner
    {
        private readonly DiffusionModel _model, _studyModel;
        private readonly EvaluationOptions _o;
        private readonly Action<string> _log;
        private readonly Backend _b;
        private readonly int _h, _w, _n;
        private readonly Solver _ddpm = SamplerRegistry.Get("ddpm");
        private readonly EvaluationReport _report = new();
        private readonly float[] _test;
        // Seed-0 in-distribution PSNR per (acceleration, method), for the pathology and OOD comparisons.
        private readonly Dictionary<(int, string), double> _inDistribution = [];

        public Runner(DiffusionModel model, DiffusionModel studyModel, EvaluationOptions o, Action<string> log)
        {
            (_model, _studyModel, _o, _log, _b) = (model, studyModel, o, log, model.Backend);
            if (model.SampleShape[0] != 1) throw new ArgumentException($"medical evaluation: the phantom tasks need a 1-channel model, found {model.SampleShape[0]} channels");
            (_h, _w, _n) = (model.SampleShape[1], model.SampleShape[2], o.Images);
            // Checked before any work: every table reports SSIM, which needs one whole window.
            if (_h < Ssim.MinSize || _w < Ssim.MinSize)
                throw new ArgumentException($"medical evaluation: the model's {_h}×{_w} images are smaller than the {Ssim.MinSize}×{Ssim.MinSize} SSIM needs");
            if (_n < 1 || o.ValidationImages < 1 || o.MaskSeeds < 1 || o.Steps < 1) throw new ArgumentException("medical evaluation: images, validation images, mask seeds and steps must be ≥ 1");
            _test = Phantoms(TestFirstIndex, _n, null);
        }

        public EvaluationReport Run()
        {
            var clock = Stopwatch.StartNew();
            _report.Header = Header();
            _log(_report.Header);
            foreach (var task in EvaluationOptions.AllTasks)
            {
                if (!_o.Tasks.Contains(task)) continue;
                _o.Cancellation.ThrowIfCancellationRequested();
                switch (task)
                {
                    case "mri": Mri(); break;
                    case "pathology": Pathology(); break;
                    case "ood": OutOfDistributionTable(); break;
                    case "uncertainty": Uncertainty(); break;
                    case "oracle": Oracle(); break;
                    case "study": Study(); break;
                    case "inpaint": Inpaint(); break;
                    case "superres": SuperResolution(); break;
                    case "denoise": Denoise(); break;
                    case "anomaly": Anomaly(); break;
                    case "segment": Segment(); break;
                    case "translate": Translate(); break;
                }
            }
            _report.Elapsed = clock.Elapsed;
            return _report;
        }

        // ---------------------------------------------------------------- helpers

        /// <summary>The run's settings, naming only those of the tables it makes.</summary>
        private string Header()
        {
            var parts = new List<string> { F($"{_n} test phantoms (indices from {TestFirstIndex}), {_o.ValidationImages} validation phantoms (from {ValidationFirstIndex}) for every tuned parameter") };
            if (_o.Tasks.Contains("mri")) parts.Add(F($"{_o.MaskSeeds} mask seeds ({_o.MaskType} rows, exact acceleration)"));
            else if (_o.Tasks.Overlaps(["pathology", "ood", "uncertainty", "oracle", "study"])) parts.Add(F($"{_o.MaskType} MRI masks (exact acceleration)"));
            if (_o.Tasks.Except(ConditionalTasks).Any()) parts.Add(F($"{_o.Steps} steps per diffusion method"));
            if (_o.Tasks.Overlaps(ConditionalTasks)) parts.Add(F($"K = {_o.ConditionalSamples} samples of {_o.ConditionalSteps} steps per segmented or translated image"));
            parts.Add(F($"device {_b.Name}, seed {_o.Seed}"));
            return string.Join(", ", parts);
        }

        private static readonly string[] ConditionalTasks = ["segment", "translate"];

        private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        private float[] Phantoms(long first, int n, LesionSpec? lesions) => HeadPhantom.GenerateBatch(n, _h, 0, lesions, first).Images;

        private Shape Shape(int n) => new(n, 1, _h, _w);

        private EvaluationTable Table(string title, params string[] columns)
        {
            var t = new EvaluationTable(title, columns);
            _report.Tables.Add(t);
            _log("");
            _log("### " + title);
            _log(EvaluationTable.RowMarkdown([.. columns]));
            return t;
        }

        private void Row(EvaluationTable t, params string[] cells) => _log(EvaluationTable.RowMarkdown(t.Add(cells)));

        private ReconstructionRequest Request(ReconstructionMethod method, int steps) =>
            new() { Method = method, Steps = steps, JumpLength = _o.JumpLength, JumpCount = _o.JumpCount, Solver = _ddpm, Seed = _o.Seed };

        private string MethodName(ReconstructionMethod method) => Reconstruction.Sampler(method, Request(method, _o.Steps), _ddpm).Name;

        /// <summary>One diffusion reconstruction (image units) and its NFE per image.</summary>
        private (float[] Estimate, int Nfe) Diffusion(DiffusionModel model, ILinearOperator op, float[] truth01, int n, ReconstructionMethod method, int steps,
            ulong seed, double[]? sigmas = null, bool oracleStart = false)
        {
            var yModel = Measurements.Apply(_b, op, Measurements.ToModel(truth01), Shape(n));
            var sampler = Reconstruction.Sampler(method, Request(method, steps), _ddpm);
            int before = model.Denoiser.Evaluations, batches = (n + model.Batch - 1) / model.Batch;
            var x = DiffusionPrior.Reconstruct(model, op, yModel, n, 0, sampler, sigmas ?? model.Sigmas("karras", steps),
                new SamplerOptions { Seed = seed, Cancellation = _o.Cancellation }, null, oracleStart ? Measurements.ToModel(truth01) : null);
            return (Measurements.FromModel(x), (model.Denoiser.Evaluations - before) / batches);
        }

        private (double[] Psnr, double[] Ssim) Quality(float[] truth, float[] estimate, int n) => ImageQuality.PerImage(truth, estimate, n, 1, _h, _w);

        private double[] Residual(ILinearOperator op, float[] estimate01, float[] y01, int n) => Measurements.RelativeResidual(_b, op, estimate01, y01, Shape(n));

        // PDHG step ratios τ/σ measured to converge fastest on validation phantoms: the penalized problem wants a large
        // primal step, the exact-data one (whose dual grows without bound) a large dual step.
        private const double TvStepRatio = 50, TvDcStepRatio = 0.005;

        private TvResult Tv(ILinearOperator op, float[] y01, int n, double lambda, double? norm)
        {
            using var host = new HostLinearOperator(op, _b, Shape(n));
            return TotalVariation.Solve(host.Forward, host.Adjoint, y01, n, _h, _w,
                new TvOptions { Lambda = lambda, MaxIterations = _o.BaselineMaxIterations, Tolerance = _o.Tolerance, OperatorNorm = norm, StepRatio = TvStepRatio });
        }

        private TvResult TvExact(ILinearOperator op, float[] y01, int n, double? norm)
        {
            using var host = new HostLinearOperator(op, _b, Shape(n));
            return TotalVariation.Solve(host.Forward, host.Adjoint, y01, n, _h, _w,
                new TvOptions { ExactData = true, Box = (0, 1), MaxIterations = _o.BaselineMaxIterations, Tolerance = _o.Tolerance / 10, OperatorNorm = norm, StepRatio = TvDcStepRatio });
        }

        private TvResult Wavelet(ILinearOperator op, float[] y01, int n, double lambda, double? norm)
        {
            using var host = new HostLinearOperator(op, _b, Shape(n));
            return WaveletSparsity.Solve(host.Forward, host.Adjoint, y01, n, _h, _w,
                new WaveletOptions { Lambda = lambda, MaxIterations = _o.BaselineMaxIterations, Tolerance = _o.Tolerance, OperatorNorm = norm });
        }

        /// <summary>The λ with the best mean validation PSNR (geometric grid plus two refinements).</summary>
        private double Tune(Func<double, float[]> solve, float[] truth, int n, double lo, double hi, string what)
        {
            var (best, score, trials) = ParameterSearch.Maximize(l => Quality(truth, solve(l), n).Psnr.Average(), ParameterSearch.LogGrid(lo, hi, 5));
            _log(F($"  tuned {what}: λ = {best:G3} (validation PSNR {score:F2} dB over {trials.Count} values)"));
            return best;
        }

        private static string Mean(IEnumerable<double> v) => v.Average().ToString("F2", CultureInfo.InvariantCulture);

        private static string Pm(IReadOnlyList<double> v, string format = "F2") =>
            $"{v.Average().ToString(format, CultureInfo.InvariantCulture)} ± {ImageQuality.Std(v).ToString(format, CultureInfo.InvariantCulture)}";

        private float[] MriMask(int acceleration, ulong seed) => MriMasks.Create(_o.MaskType, _h, _w, acceleration, seed);

        // ---------------------------------------------------------------- image-conditioned tasks

        private EnsembleOptions Ensemble() => new() { Samples = _o.ConditionalSamples, Steps = _o.ConditionalSteps, Seed = _o.Seed, Cancellation = _o.Cancellation };

        /// <summary>The image size of a conditional model, which must match the main model's phantoms.</summary>
        private static int Size(DiffusionModel model, string task)
        {
            if (model.ConditionShape is not [1, var h, var w] || model.SampleShape is not [1, _, _] || h != w)
                throw new ArgumentException($"medical evaluation ({task}): {model.Source} must take one condition channel and give one channel of square images, found condition {string.Join("×", model.ConditionShape ?? [])} and sample {string.Join("×", model.SampleShape)}");
            return h;
        }

        private void Segment()
        {
            if (_o.SegmentationModel is not { } model)
            {
                _log("");
                _log("segment: no segmentation model given; table left out");
                return;
            }
            int s = Size(model, "segment");
            var report = SegmentationBenchmark.Run(model, HeldOutSets.LesionPhantoms(_n, s, TestFirstIndex), HeldOutSets.LesionPhantoms(_o.ValidationImages, s, ValidationFirstIndex),
                Ensemble(), log: _log);
            Publish(report.Table, F($" ({model.Source}, {_o.ConditionalSteps} steps, lesion phantoms from {TestFirstIndex}, validation from {ValidationFirstIndex})"));
        }

        private void Translate()
        {
            if (_o.TranslationModel is not { } model)
            {
                _log("");
                _log("translate: no translation model given; table left out");
                return;
            }
            int s = Size(model, "translate");
            var report = TranslationBenchmark.Run(model, HeldOutSets.ContrastPairs(_n, s, TestFirstIndex), HeldOutSets.ContrastPairs(_o.ValidationImages, s, ValidationFirstIndex), Ensemble());
            Publish(report.Table, F($" ({model.Source}, {_o.ConditionalSteps} steps, phantoms from {TestFirstIndex}, validation from {ValidationFirstIndex})"));
        }

        /// <summary>Adds a table made elsewhere to the report, printing it as the others print.</summary>
        private void Publish(EvaluationTable made, string titleSuffix)
        {
            var t = Table(made.Title + titleSuffix, [.. made.Columns]);
            foreach (var r in made.Rows) Row(t, r);
            t.Notes.AddRange(made.Notes);
            foreach (var note in made.Notes) _log(note);
        }

        // ---------------------------------------------------------------- MRI

        private sealed class Tally
        {
            public readonly List<double[]> Psnr = [], Ssim = [], Residual = [];
            public int Nfe;
            public readonly List<string> Extra = [];
        }

        private readonly Dictionary<int, (double Tv, double Wavelet)> _lambdas = [];

        private (double Tv, double Wavelet) MriLambdas(int acc)
        {
            if (_lambdas.TryGetValue(acc, out var l)) return l;
            int v = _o.ValidationImages;
            var val = Phantoms(ValidationFirstIndex, v, null);
            using var op = new CartesianMri(_b, MriMask(acc, 1000), new Shape(_h, _w));
            var y = Measurements.Apply(_b, op, val, Shape(v));
            double tv = Tune(lam => Tv(op, y, v, lam, 1).X, val, v, 1e-4, 1e-2, F($"TV at {acc}×"));
            double wav = _o.WaveletBaseline ? Tune(lam => Wavelet(op, y, v, lam, 1).X, val, v, 1e-4, 1e-2, F($"wavelet ℓ1 at {acc}×")) : double.NaN;
            return _lambdas[acc] = (tv, wav);
        }

        private void Mri()
        {
            var t = Table(F($"MRI, exact acceleration ({_o.MaskType} rows, fastMRI centre fractions), {_n} test phantoms × {_o.MaskSeeds} mask seeds"),
                "acceleration", "method", "PSNR (dB)", "± over mask seeds", "± over images", "SSIM", "k-space residual", "NFE", "images above TV-DC");
            foreach (int acc in _o.Accelerations)
            {
                var (lTv, lWav) = MriLambdas(acc);
                var tallies = new Dictionary<string, Tally>();
                var order = new List<string>();
                Tally Of(string name)
                {
                    if (!tallies.TryGetValue(name, out var tl)) { tallies[name] = tl = new Tally(); order.Add(name); }
                    return tl;
                }
                int rows = 0;
                for (ulong seed = 0; seed < (ulong)_o.MaskSeeds; seed++)
                {
                    var mask = MriMask(acc, seed);
                    rows = MriMasks.EffectiveAcceleration(mask, _h, _w).Rows;
                    using var op = new CartesianMri(_b, mask, new Shape(_h, _w));
                    var y = Measurements.Apply(_b, op, _test, Shape(_n));
                    void Record(string name, float[] estimate, int nfe, string? extra = null)
                    {
                        var q = Quality(_test, estimate, _n);
                        var tl = Of(name);
                        tl.Psnr.Add(q.Psnr);
                        tl.Ssim.Add(q.Ssim);
                        tl.Residual.Add(Residual(op, estimate, y, _n));
                        tl.Nfe = nfe;
                        if (extra is not null) tl.Extra.Add(extra);
                        if (seed == 0) _inDistribution[(acc, name)] = q.Psnr.Average();
                        _log(F($"  {acc}× seed {seed} {name}: PSNR {q.Psnr.Average():F2} dB{(extra is null ? "" : $" ({extra})")}"));
                    }
                    Record("zero-filled", Measurements.Adjoint(_b, op, y, Shape(_n)), 0);
                    var tv = Tv(op, y, _n, lTv, 1);
                    Record(F($"TV (λ {lTv:G2})"), tv.X, 0, F($"{tv.Iterations} it{(tv.Converged ? "" : ", not converged")}"));
                    var tvdc = TvExact(op, y, _n, 1);
                    Record("TV-DC [0,1]", tvdc.X, 0, F($"{tvdc.Iterations} it{(tvdc.Converged ? "" : ", not converged")}"));
                    if (_o.WaveletBaseline)
                    {
                        var wav = Wavelet(op, y, _n, lWav, 1);
                        Record(F($"wavelet ℓ1 db4 (λ {lWav:G2})"), wav.X, 0, F($"{wav.Iterations} it{(wav.Converged ? "" : ", not converged")}"));
                    }
                    foreach (var method in _o.MriMethods)
                    {
                        var (x, nfe) = Diffusion(_model, op, _test, _n, method, _o.Steps, _o.Seed);
                        Record(MethodName(method), x, nfe);
                    }
                }
                var reference = tallies["TV-DC [0,1]"].Psnr;
                foreach (var name in order)
                {
                    var tl = tallies[name];
                    var seedMeans = tl.Psnr.Select(p => p.Average()).ToArray();
                    var imageStd = tl.Psnr.Select(p => ImageQuality.Std(p)).Average();
                    int above = 0, total = 0;
                    for (int s = 0; s < tl.Psnr.Count; s++)
                        for (int k = 0; k < _n; k++) { total++; if (tl.Psnr[s][k] > reference[s][k]) above++; }
                    Row(t, F($"{acc}× ({rows}/{_h} rows)"), name, Mean(tl.Psnr.SelectMany(p => p)), F($"± {ImageQuality.Std(seedMeans):F2} (min {seedMeans.Min():F2}, max {seedMeans.Max():F2})"),
                        F($"± {imageStd:F2}"), F($"{tl.Ssim.SelectMany(p => p).Average():F3}"), F($"{tl.Residual.SelectMany(r => r).Average():E1}"),
                        tl.Nfe > 0 ? tl.Nfe.ToString(CultureInfo.InvariantCulture) : "–", name == "TV-DC [0,1]" ? "–" : F($"{above}/{total}"));
                    if (tl.Extra.Count > 0) t.Notes.Add(F($"{acc}× {name}: {string.Join("; ", tl.Extra)}."));
                }
            }
            t.Notes.Add(F($"TV and wavelet λ chosen on validation phantoms with a validation mask (seed 1000), never on the test images; iterative baselines run until every image's relative change is below {_o.Tolerance:G2} (TV-DC: {_o.Tolerance / 10:G2}; cap {_o.BaselineMaxIterations} iterations). k-space residual: ‖A·x̂ − y‖/‖y‖ in image units."));
        }

        // ---------------------------------------------------------------- pathology and out-of-distribution

        private void Pathology()
        {
            var (images, masks) = HeadPhantom.GenerateBatch(_n, _h, 0, LesionSpec.Standard, TestFirstIndex);
            var t = Table(F($"MRI on lesion phantoms (1–3 bright lesions, absent from training; same anatomy as the test set), mask seed 0"),
                "acceleration", "method", "PSNR (dB)", "lesion contrast kept", "in-distribution PSNR (seed 0)");
            foreach (int acc in _o.Accelerations)
            {
                using var op = new CartesianMri(_b, MriMask(acc, 0), new Shape(_h, _w));
                var y = Measurements.Apply(_b, op, images, Shape(_n));
                void Add(string name, float[] x)
                {
                    double retention = LesionContrast.Retention(images, x, masks!, _n, _h, _w);
                    Row(t, F($"{acc}×"), name, Mean(Quality(images, x, _n).Psnr), F($"{100 * retention:F0} %"),
                        _inDistribution.TryGetValue((acc, name), out var p) ? F($"{p:F2}") : "–");
                }
                Add("TV-DC [0,1]", TvExact(op, y, _n, 1).X);
                foreach (var method in new[] { ReconstructionMethod.Ddnm, _o.MainMethod }.Distinct())
                    Add(MethodName(method), Diffusion(_model, op, images, _n, method, _o.Steps, _o.Seed).Estimate);
            }
            t.Notes.Add("Lesion contrast: mean(lesion) − mean(3-pixel ring around it), reconstruction over truth, pooled over images.");
        }

        private void OutOfDistributionTable()
        {
            var (images, kinds) = OutOfDistribution.Mixed(_n, _h, 0, OodFirstIndex);
            var kindNames = OutOfDistribution.Kinds.Select(OutOfDistribution.Name).ToArray();
            var t = Table(F($"MRI on out-of-distribution images ({_n} images: Shepp–Logan, rotated, flipped, scaled in turn), mask seed 0"),
                ["acceleration", "method", "PSNR all (dB)", .. kindNames, "in-distribution PSNR (seed 0)"]);
            foreach (int acc in _o.Accelerations)
            {
                using var op = new CartesianMri(_b, MriMask(acc, 0), new Shape(_h, _w));
                var y = Measurements.Apply(_b, op, images, Shape(_n));
                void Add(string name, float[] x)
                {
                    var psnr = Quality(images, x, _n).Psnr;
                    var perKind = OutOfDistribution.Kinds.Select(k => Enumerable.Range(0, _n).Where(i => kinds[i] == k).Select(i => psnr[i]).DefaultIfEmpty(double.NaN).Average())
                        .Select(v => double.IsNaN(v) ? "–" : F($"{v:F2}")); // "–": no image of that kind among the test phantoms
                    Row(t, [F($"{acc}×"), name, Mean(psnr), .. perKind, _inDistribution.TryGetValue((acc, name), out var p) ? F($"{p:F2}") : "–"]);
                }
                Add("TV-DC [0,1]", TvExact(op, y, _n, 1).X);
                foreach (var method in new[] { ReconstructionMethod.Ddnm, _o.MainMethod }.Distinct())
                    Add(MethodName(method), Diffusion(_model, op, images, _n, method, _o.Steps, _o.Seed).Estimate);
            }
        }

        // ---------------------------------------------------------------- uncertainty

        private void Uncertainty()
        {
            int k = _o.PosteriorSamples;
            if (k < 2) return;
            int n = Math.Min(_o.StudyImages, _n);
            var t = Table(F($"Uncertainty from K = {k} posterior samples (DDNM, {n} images per set, mask seed 0)"),
                "set", "acceleration", "PSNR one sample", "PSNR mean of K", "corr(|error|, σ)", "±2σ coverage", "mean σ", "RMSE of the mean");
            var (ood, _) = OutOfDistribution.Mixed(n, _h, 0, OodFirstIndex);
            foreach (var (set, images) in new[] { ("test", _test.AsSpan(0, n * _h * _w).ToArray()), ("out-of-distribution", ood) })
                foreach (int acc in _o.Accelerations)
                {
                    using var op = new CartesianMri(_b, MriMask(acc, 0), new Shape(_h, _w));
                    var samples = new List<float[]>();
                    for (int s = 0; s < k; s++) samples.Add(Diffusion(_studyModel, op, images, n, ReconstructionMethod.Ddnm, _o.Steps, DiffusionPrior.PosteriorSeed(_o.Seed, s)).Estimate);
                    var (mean, std) = PosteriorStatistics.Compute(samples);
                    var (corr, coverage) = Calibration.Compute(images, mean, std);
                    double rmse = Math.Sqrt(Psnr.MeanSquaredError(images, mean));
                    Row(t, set, F($"{acc}×"), Mean(Quality(images, samples[0], n).Psnr), Mean(Quality(images, mean, n).Psnr), F($"{corr:F3}"), F($"{100 * coverage:F1} %"),
                        F($"{std.Average(v => (double)v):F4}"), F($"{rmse:F4}"));
                }
            t.Notes.Add("σ: per-pixel std over the K samples (K − 1 denominator); coverage: fraction of pixels whose truth lies within mean ± 2σ (95.4 % if calibrated and Gaussian).");
        }

        // ---------------------------------------------------------------- prior or method?

        private void Oracle()
        {
            var t = Table("Prior or method? DDNM from noise vs from the truth (oracle start), mask seed 0", "acceleration", "start", "PSNR (dB)", "NFE");
            foreach (int acc in _o.Accelerations)
            {
                using var op = new CartesianMri(_b, MriMask(acc, 0), new Shape(_h, _w));
                var y = Measurements.Apply(_b, op, _test, Shape(_n));
                Row(t, F($"{acc}×"), "TV-DC [0,1] (reference)", Mean(Quality(_test, TvExact(op, y, _n, 1).X, _n).Psnr), "–");
                var fromNoise = Diffusion(_model, op, _test, _n, ReconstructionMethod.Ddnm, _o.Steps, _o.Seed);
                Row(t, F($"{acc}×"), F($"noise (σ = {_model.Denoiser.SigmaMax:G3}), {_o.Steps} steps"), Mean(Quality(_test, fromNoise.Estimate, _n).Psnr), F($"{fromNoise.Nfe}"));
                foreach (double s in new[] { 1.0, 0.3, 0.1, 0.03 })
                {
                    int steps = Math.Max(2, _o.Steps / 2);
                    var sigmas = SigmaGrids.Karras(steps, _model.Denoiser.SigmaMin, s);
                    var r = Diffusion(_model, op, _test, _n, ReconstructionMethod.Ddnm, steps, _o.Seed, sigmas, oracleStart: true);
                    Row(t, F($"{acc}×"), F($"truth + σε, σ = {s:G2} (model units), {steps} steps"), Mean(Quality(_test, r.Estimate, _n).Psnr), F($"{r.Nfe}"));
                }
            }
            t.Notes.Add("An oracle start begins at the true image noised to σ (model units, [−1, 1] images) and runs DDNM from there. If even these stay below TV-DC, "
                        + "the prior itself moves correct images away from the truth: the limit is the prior (the model), not the sampler.");
        }

        // ---------------------------------------------------------------- quality vs NFE

        private void Study()
        {
            if (_o.StudySteps.Count == 0) return;
            int n = Math.Min(_o.StudyImages, _n);
            var images = _test.AsSpan(0, n * _h * _w).ToArray();
            var t = Table(F($"Quality against NFE ({n} test phantoms, mask seed 0)"), "acceleration", "method", "steps", "NFE", "PSNR (dB)", "SSIM");
            foreach (int acc in _o.Accelerations)
            {
                using var op = new CartesianMri(_b, MriMask(acc, 0), new Shape(_h, _w));
                var y = Measurements.Apply(_b, op, images, Shape(n));
                var tv = Quality(images, TvExact(op, y, n, 1).X, n);
                Row(t, F($"{acc}×"), "TV-DC [0,1]", "–", "–", Mean(tv.Psnr), F($"{tv.Ssim.Average():F3}"));
                _report.Study.Add(new StudyPoint(F($"{acc}×"), "TV-DC [0,1]", 0, 0, tv.Psnr.Average(), tv.Ssim.Average()));
                foreach (var method in new[] { ReconstructionMethod.Ddnm, _o.MainMethod }.Distinct())
                    foreach (int steps in _o.StudySteps)
                    {
                        var (x, nfe) = Diffusion(_studyModel, op, images, n, method, steps, _o.Seed);
                        var q = Quality(images, x, n);
                        Row(t, F($"{acc}×"), MethodName(method), F($"{steps}"), F($"{nfe}"), Mean(q.Psnr), F($"{q.Ssim.Average():F3}"));
                        _report.Study.Add(new StudyPoint(F($"{acc}×"), MethodName(method), steps, nfe, q.Psnr.Average(), q.Ssim.Average()));
                    }
            }
        }

        // ---------------------------------------------------------------- other tasks

        private void Inpaint()
        {
            var t = Table("Inpainting a centred box of 25 % of the area", "method", "PSNR (dB)", "SSIM", "residual", "NFE");
            var masks = Measurements.CentredBoxMask(_n, _h, _w, 0.25);
            using var op = new MaskOperator(_b, masks, Shape(_n));
            var y = Measurements.Apply(_b, op, _test, Shape(_n));
            void Add(string name, float[] x, int nfe)
            {
                var q = Quality(_test, x, _n);
                Row(t, name, Pm(q.Psnr), Pm(q.Ssim, "F3"), F($"{Residual(op, x, y, _n).Average():E1}"), nfe > 0 ? F($"{nfe}") : "–");
            }
            Add("masked (known pixels, 0 elsewhere)", y, 0);
            Add("TV-DC [0,1]", TvExact(op, y, _n, 1).X, 0);
            var yModel = Measurements.Apply(_b, op, Measurements.ToModel(_test), Shape(_n));
            var repaint = new RePaint(10, 2);
            int before = _model.Denoiser.Evaluations, batches = (_n + _model.Batch - 1) / _model.Batch;
            var x = Measurements.FromModel(DiffusionPrior.Inpaint(_model, yModel, masks, _n, repaint, _model.Sigmas("karras", _o.Steps),
                new SamplerOptions { Seed = _o.Seed, Cancellation = _o.Cancellation }));
            Add("RePaint (j=10, r=2)", x, (_model.Denoiser.Evaluations - before) / batches);
            if (_n <= _model.Batch)
            {
                var (d, nfe) = Diffusion(_model, op, _test, _n, _o.MainMethod, _o.Steps, _o.Seed);
                Add(MethodName(_o.MainMethod), d, nfe);
            }
        }

        private void SuperResolution()
        {
            var t = Table("Super-resolution ×4 (4×4 box average)", "method", "PSNR (dB)", "SSIM", "residual", "NFE");
            using var op = new BoxDownsample(_b, 4);
            var y = Measurements.Apply(_b, op, _test, Shape(_n));
            void Add(string name, float[] x, int nfe)
            {
                var q = Quality(_test, x, _n);
                Row(t, name, Pm(q.Psnr), Pm(q.Ssim, "F3"), F($"{Residual(op, x, y, _n).Average():E1}"), nfe > 0 ? F($"{nfe}") : "–");
            }
            Add("bicubic", Bicubic.Upsample(y, _n, _h / 4, _w / 4, 4), 0);
            Add("TV-DC [0,1]", TvExact(op, y, _n, 0.25).X, 0);
            foreach (var method in new[] { ReconstructionMethod.Ddnm, _o.MainMethod }.Distinct())
            {
                var (x, nfe) = Diffusion(_model, op, _test, _n, method, _o.Steps, _o.Seed);
                Add(MethodName(method), x, nfe);
            }
        }

        private void Denoise()
        {
            const double noise = 0.1;
            var t = Table(F($"Denoising, Gaussian noise σ = {noise} (image units)"), "method", "PSNR (dB)", "SSIM", "NFE");
            var rng = new SplitMix64(_o.Seed ^ 0x44454E4F495345UL);
            var noisy = _test.Select(v => (float)(v + noise * Normal(ref rng))).ToArray();
            int v = _o.ValidationImages;
            var val = Phantoms(ValidationFirstIndex, v, null);
            var valNoisy = val.Select(x => (float)(x + noise * Normal(ref rng))).ToArray();
            void Add(string name, float[] x, int nfe)
            {
                var q = Quality(_test, x, _n);
                Row(t, name, Pm(q.Psnr), Pm(q.Ssim, "F3"), nfe > 0 ? F($"{nfe}") : "–");
            }
            Add("noisy input", noisy, 0);
            Add("Gaussian filter σ = 1 px (fixed)", GaussianFilter.Apply(noisy, _n, _h, _w, 1.0), 0);
            var (width, _, _) = ParameterSearch.Maximize(s => Quality(val, GaussianFilter.Apply(valNoisy, v, _h, _w, s), v).Psnr.Average(), ParameterSearch.LogGrid(0.25, 4, 9));
            Add(F($"Gaussian filter σ = {width:G3} px (tuned)"), GaussianFilter.Apply(noisy, _n, _h, _w, width), 0);
            using var id = new IdentityOperator(_b);
            double lambda = Tune(l => Tv(id, valNoisy, v, l, 1).X, val, v, 1e-2, 3e-1, "TV denoising");
            Add(F($"TV (λ {lambda:G2}, tuned)"), Tv(id, noisy, _n, lambda, 1).X, 0);
            int before = _model.Denoiser.Evaluations, batches = (_n + _model.Batch - 1) / _model.Batch;
            var x = Measurements.FromModel(DiffusionPrior.Denoise(_model, Measurements.ToModel(noisy), _n, 2 * noise, _o.Steps, _ddpm,
                new SamplerOptions { Seed = _o.Seed, Cancellation = _o.Cancellation }));
            Add(F($"SDEdit (ddpm, {_o.Steps} steps)"), x, (_model.Denoiser.Evaluations - before) / batches);
            t.Notes.Add("Tuned parameters chosen on validation phantoms with their own noise; every method sees the same unclamped noisy images.");
        }

        private static double Normal(ref SplitMix64 rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

        private void Anomaly()
        {
            double sigma = AnomalyDetector.SigmaAt(_model.Schedule.CreateSchedule(), 250);
            int plane = _h * _w;
            float[] Maps(float[] images, int n)
            {
                var recon = DiffusionPrior.AnomalyReconstruct(_model, Measurements.ToModel(images), n, sigma, _o.AnomalySteps, _ddpm,
                    new SamplerOptions { Seed = _o.Seed, Cancellation = _o.Cancellation });
                return AnomalyDetector.Map(images, Measurements.FromModel(recon), n, 1, _h, _w, 1.0);
            }
            var (valImages, valMasks) = HeadPhantom.GenerateBatch(_o.ValidationImages, _h, 0, LesionSpec.Standard, ValidationFirstIndex);
            var (_, threshold) = BestDice.Compute(Maps(valImages, _o.ValidationImages), valMasks!);
            _log(F($"  anomaly threshold chosen on {_o.ValidationImages} validation lesion phantoms: {threshold:G4}"));
            var healthy = Phantoms(HealthyFirstIndex, _n, null);
            var healthyMaps = Maps(healthy, _n);
            var t = Table(F($"Anomaly detection (AnoDDPM, t = 250, Gaussian noise, {_o.AnomalySteps} steps), {_n} lesion phantoms per set + {_n} healthy for the image AUROC"),
                "lesion set", "lesion pixels", "pixel AUROC", "AP", "best Dice (oracle threshold)", "Dice at validation threshold", "Dice@p95", "image AUROC");
            foreach (var (name, spec) in LesionSpec.Named)
            {
                var (images, masks) = HeadPhantom.GenerateBatch(_n, _h, 0, spec, TestFirstIndex);
                var maps = Maps(images, _n);
                var scores = AnomalyMetrics.Evaluate([.. maps, .. healthyMaps], [.. masks!, .. new float[healthy.Length]], 2 * _n, plane, threshold);
                double p95 = Dice.Compute(masks!, AnomalyDetector.Segment(maps, 95));
                Row(t, name, F($"{100.0 * masks!.Count(m => m != 0) / masks.Length:F2} %"), F($"{scores.PixelAuroc:F3}"), F($"{scores.AveragePrecision:F3}"), F($"{scores.BestDice:F3}"),
                    F($"{scores.Dice:F3}"), F($"{p95:F3}"), F($"{scores.ImageAuroc:F3}"));
            }
            t.Notes.Add("Pixel metrics pool the lesion set with the healthy images (whose pixels are all negatives); image AUROC: map maximum as the score, lesion set vs healthy set. "
                        + "Validation threshold: the best-Dice threshold on validation lesion phantoms (standard set). Dice@p95: the old rule, each set's own 95th percentile.");
        }
    }
}
