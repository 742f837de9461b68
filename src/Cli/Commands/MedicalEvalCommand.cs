using System.CommandLine;
using System.Globalization;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk medical-eval</c>: the tables of docs/medical.md in one command, a thin layer over <see cref="MedicalEvaluation.Run"/>:
/// MRI at exact 4×/8× over several mask seeds against converged, validation-tuned baselines; lesion and
/// out-of-distribution sets; uncertainty calibration; oracle starts (prior or method?); quality against NFE;
/// inpainting, super-resolution, denoising; anomaly detection with AP, Dice and image AUROC.
/// </summary>
internal static class MedicalEvalCommand
{
    /// <summary>First phantom index of the held-out test set.</summary>
    public const long HeldOutFirstIndex = MedicalEvaluation.TestFirstIndex;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder (default: the bundled {SampleCommand.BundledModel})" };
        var n = new Option<int>("--n") { Description = "Test phantoms per set", DefaultValueFactory = _ => 16 };
        var validation = new Option<int>("--validation-n") { Description = "Validation phantoms for tuning baselines and the anomaly threshold", DefaultValueFactory = _ => 8 };
        var maskSeeds = new Option<int>("--mask-seeds") { Description = "MRI mask seeds (results give the spread over them)", DefaultValueFactory = _ => 3 };
        var maskType = new Option<string>("--mask-type") { Description = "MRI masks: random or equispaced rows", DefaultValueFactory = _ => "random" };
        var accelerations = new Option<string>("--accelerations") { Description = "MRI accelerations (exactly H/R rows each)", DefaultValueFactory = _ => "4,8" };
        var noWavelet = new Option<bool>("--no-wavelet") { Description = "Leave out the wavelet ℓ1 baseline (its λ search is the slowest part of the MRI table)" };
        var steps = new Option<int>("--steps") { Description = "Steps of every diffusion method", DefaultValueFactory = _ => 50 };
        var methods = new Option<string>("--methods") { Description = "MRI diffusion methods of the main table: ddnm, time-travel, pc", DefaultValueFactory = _ => "ddnm,time-travel" };
        var main = new Option<string>("--main-method") { Description = "Method of the lesion, out-of-distribution, study and task tables", DefaultValueFactory = _ => "time-travel" };
        var jumpLength = new Option<int>("--jump-length") { Description = "Time travel: steps per jump", DefaultValueFactory = _ => 5 };
        var jumpCount = new Option<int>("--jump-count") { Description = "Time travel: passes over each jump", DefaultValueFactory = _ => 2 };
        var posterior = new Option<int>("--posterior-samples") { Description = "K posterior samples of the uncertainty table (< 2: skip it)", DefaultValueFactory = _ => 4 };
        var studySteps = new Option<string>("--study-steps") { Description = "Step counts of the quality-vs-NFE study (empty: skip it)", DefaultValueFactory = _ => "10,25,50,100" };
        var studyN = new Option<int>("--study-n") { Description = "Test phantoms of the quality-vs-NFE study", DefaultValueFactory = _ => 8 };
        var maxIterations = new Option<int>("--max-iterations") { Description = "Iteration cap of the iterative baselines (TV, TV-DC, wavelet ℓ1)", DefaultValueFactory = _ => 20_000 };
        var tolerance = new Option<double>("--tolerance") { Description = "The baselines stop when every image's relative change is below this", DefaultValueFactory = _ => 1e-5 };
        var anomalySteps = new Option<int>("--anomaly-steps") { Description = "Solver steps of the anomaly reconstruction", DefaultValueFactory = _ => 20 };
        var tasks = new Option<string>("--tasks") { Description = $"Comma-separated subset of {string.Join(",", EvaluationOptions.AllTasks)}", DefaultValueFactory = _ => string.Join(",", EvaluationOptions.AllTasks) };
        var batch = new Option<int>("--batch-size") { Description = "Images per network call", DefaultValueFactory = _ => 16 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of noise and sampling", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--output") { Description = "Folder for medical-eval.md (all tables) and quality_vs_nfe.png" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder" };
        var segModel = new Option<string?>("--seg-model") { Description = $"Image-conditioned segmentation model of the segment table (default: the bundled {DiffusionKernels.BundledModel.SegmentationPath} when present)" };
        var translateModel = new Option<string?>("--translate-model") { Description = $"Image-conditioned A → B model of the translate table (default: the bundled {DiffusionKernels.BundledModel.TranslationPath} when present)" };
        var conditionalSamples = new Option<int>("--conditional-samples") { Description = "Samples per image K of the segment and translate tables", DefaultValueFactory = _ => 8 };
        var conditionalSteps = new Option<int>("--conditional-steps") { Description = "Solver steps of the segment and translate tables", DefaultValueFactory = _ => 20 };
        var allowNonFinite = CommonOptions.AllowNonFinite();
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var command = new Command("medical-eval", "The held-out medical evaluation: exact-acceleration MRI against tuned converged baselines, lesions, out-of-distribution images, uncertainty, NFE study, other tasks, anomaly detection")
            { model, n, validation, maskSeeds, maskType, accelerations, noWavelet, steps, methods, main, jumpLength, jumpCount, posterior, studySteps, studyN, maxIterations, tolerance, anomalySteps, tasks, batch, seed, output, force, allowNonFinite, device, precision,
              segModel, translateModel, conditionalSamples, conditionalSteps };
        command.SetAction(r => Run(new Request(r.GetValue(model), r.GetValue(n), r.GetValue(validation), r.GetValue(maskSeeds), r.GetValue(maskType)!, r.GetValue(accelerations)!, r.GetValue(noWavelet), r.GetValue(steps),
            r.GetValue(methods)!, r.GetValue(main)!, r.GetValue(jumpLength), r.GetValue(jumpCount), r.GetValue(posterior), r.GetValue(studySteps)!, r.GetValue(studyN),
            r.GetValue(maxIterations), r.GetValue(tolerance), r.GetValue(anomalySteps), r.GetValue(tasks)!, r.GetValue(batch), r.GetValue(seed), r.GetValue(output),
            r.GetValue(force), r.GetValue(device)!, r.GetValue(allowNonFinite), r.GetValue(segModel), r.GetValue(translateModel), r.GetValue(conditionalSamples), r.GetValue(conditionalSteps), r.GetValue(precision)!)));
        return command;
    }

    public sealed record Request(string? Model, int N, int ValidationN, int MaskSeeds, string MaskType, string Accelerations, bool NoWavelet, int Steps, string Methods, string MainMethod, int JumpLength,
        int JumpCount, int PosteriorSamples, string StudySteps, int StudyN, int MaxIterations, double Tolerance, int AnomalySteps, string Tasks, int Batch, ulong Seed,
        string? Output, bool Force, string Device, bool AllowNonFinite = false, string? SegModel = null, string? TranslateModel = null, int ConditionalSamples = 8, int ConditionalSteps = 20, string Precision = "fp32");

    private static ReconstructionMethod Method(string option, string name) => name switch
    {
        "ddnm" => ReconstructionMethod.Ddnm,
        "time-travel" => ReconstructionMethod.TimeTravel,
        "pc" => ReconstructionMethod.PredictorCorrector,
        _ => throw new ArgumentException($"{option}: unknown method '{name}'; known: ddnm, time-travel, pc"),
    };

    /// <summary>Checks every option (naming it) and builds the library options; nothing runs before this passes.</summary>
    public static EvaluationOptions ToOptions(Request q)
    {
        MedicalInputs.InRange("--n", q.N, 1, 10_000);
        MedicalInputs.InRange("--validation-n", q.ValidationN, 1, 10_000);
        MedicalInputs.InRange("--mask-seeds", q.MaskSeeds, 1, 1000);
        if (q.MaskType is not ("random" or "equispaced")) throw new ArgumentException($"--mask-type must be random or equispaced, found '{q.MaskType}'");
        MedicalInputs.InRange("--steps", q.Steps, 1, 100_000);
        MedicalInputs.InRange("--jump-length", q.JumpLength, 1, 100_000);
        MedicalInputs.InRange("--jump-count", q.JumpCount, 1, 100);
        MedicalInputs.InRange("--posterior-samples", q.PosteriorSamples, 0, 1000);
        MedicalInputs.InRange("--study-n", q.StudyN, 1, 10_000);
        MedicalInputs.InRange("--max-iterations", q.MaxIterations, 1, 10_000_000);
        MedicalInputs.AboveAtMost("--tolerance", q.Tolerance, 0, 1);
        MedicalInputs.InRange("--anomaly-steps", q.AnomalySteps, 1, 100_000);
        MedicalInputs.InRange("--batch-size", q.Batch, 1, 4096);
        MedicalInputs.InRange("--conditional-samples", q.ConditionalSamples, 1, 1000);
        MedicalInputs.InRange("--conditional-steps", q.ConditionalSteps, 1, 100_000);
        var methods = Split(q.Methods).Select(m => Method("--methods", m)).Distinct().ToList();
        if (methods.Count == 0) throw new ArgumentException("--methods: give at least one method");
        var tasks = Split(q.Tasks);
        foreach (var t in tasks) if (!EvaluationOptions.AllTasks.Contains(t)) throw new ArgumentException($"--tasks: unknown task '{t}'; known: {string.Join(", ", EvaluationOptions.AllTasks)}");
        if (tasks.Count == 0) throw new ArgumentException("--tasks: give at least one task");
        var studySteps = Split(q.StudySteps).Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v is >= 1 and <= 100_000 ? v
            : throw new ArgumentException($"--study-steps: '{s}' is not a step count in [1, 100000]")).ToList();
        var accelerations = Split(q.Accelerations).Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v is 4 or 8 ? v
            : throw new ArgumentException($"--accelerations: '{s}' is not 4 or 8 (the accelerations with fastMRI centre fractions)")).Distinct().ToList();
        if (accelerations.Count == 0) throw new ArgumentException("--accelerations: give at least one");
        return new EvaluationOptions
        {
            Accelerations = accelerations,
            WaveletBaseline = !q.NoWavelet,
            Images = q.N,
            ValidationImages = q.ValidationN,
            MaskSeeds = q.MaskSeeds,
            MaskType = q.MaskType,
            Steps = q.Steps,
            MriMethods = methods,
            MainMethod = Method("--main-method", q.MainMethod),
            JumpLength = q.JumpLength,
            JumpCount = q.JumpCount,
            PosteriorSamples = q.PosteriorSamples,
            StudySteps = studySteps,
            StudyImages = q.StudyN,
            BaselineMaxIterations = q.MaxIterations,
            Tolerance = q.Tolerance,
            AnomalySteps = q.AnomalySteps,
            Tasks = tasks.ToHashSet(),
            Seed = q.Seed,
            ConditionalSamples = q.ConditionalSamples,
            ConditionalSteps = q.ConditionalSteps,
        };
    }

    private static List<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    public static int Run(Request q)
    {
        var options = ToOptions(q);
        var modelPath = q.Model ?? SampleCommand.FindBundledModel();
        var output = q.Output is null ? null : OutputFolder.Check(q.Output, q.Force, CommonOptions.ModelPaths(modelPath));
        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        using var cancel = ConsoleCancellation.Install();
        using var model = DiffusionModel.Open(modelPath, backend, Math.Min(q.Batch, q.N));
        // A lower bound of what the tables hold at once: the largest phantom set, K posterior samples of it in model and
        // image units, and about a dozen images, measurements and baseline results of the same size.
        int largest = Math.Max(q.N, Math.Max(q.ValidationN, q.StudyN));
        MedicalInputs.EnsureResultsFit($"the evaluation of {largest} phantoms of {Shape.Format(model.SampleShape)}", largest, model.SampleShape, 2L * q.PosteriorSamples + 12);
        int studyBatch = Math.Min(q.Batch, Math.Min(q.StudyN, q.N));
        using var studyModel = (options.Tasks.Contains("study") || options.Tasks.Contains("uncertainty")) && studyBatch != model.Batch ? DiffusionModel.Open(modelPath, backend, studyBatch) : null;
        // The conditional tables: the named models, else the bundled ones when they are there (else the tables are left out with a note).
        using var segmentation = options.Tasks.Contains("segment") && ConditionalModel(q.SegModel, DiffusionKernels.BundledModel.SegmentationPath) is { } seg
            ? DiffusionModel.Open(seg, backend, Math.Min(q.Batch, q.N * q.ConditionalSamples), image: new ImageConditioning()) : null;
        using var translation = options.Tasks.Contains("translate") && ConditionalModel(q.TranslateModel, DiffusionKernels.BundledModel.TranslationPath) is { } tr
            ? DiffusionModel.Open(tr, backend, Math.Min(q.Batch, q.N * q.ConditionalSamples), image: new ImageConditioning()) : null;
        var report = MedicalEvaluation.Run(model, options with { Cancellation = cancel.Token, SegmentationModel = segmentation, TranslationModel = translation }, Console.WriteLine, studyModel);
        Console.WriteLine($"done in {report.Elapsed.TotalSeconds:F0} s");
        var nonFinite = report.NonFiniteResults();
        if (nonFinite.Count > 0)
        {
            string message = $"{nonFinite.Count} result{(nonFinite.Count > 1 ? "s are" : " is")} NaN or infinite, the first in {nonFinite[0]}";
            if (!q.AllowNonFinite) throw new NumericalInstabilityException($"{message}; nothing was written (--allow-nonfinite writes them)");
            Console.Error.WriteLine($"dk: warning: {message}");
        }
        if (output is not null)
        {
            OutputFolder.Write(output, temp =>
            {
                File.WriteAllText(Path.Combine(temp, "medical-eval.md"), report.ToMarkdown() + $"{Environment.NewLine}Run time: {report.Elapsed.TotalSeconds:F0} s.{Environment.NewLine}");
                if (report.Study.Count > 0) Plot(report, Path.Combine(temp, "quality_vs_nfe.png"));
            });
            Console.WriteLine($"wrote {output}");
        }
        return 0;
    }

    /// <summary>The model folder given, else the bundled one at <paramref name="bundled"/> when it exists, else null.</summary>
    private static string? ConditionalModel(string? given, string bundled)
    {
        if (given is not null) return given;
        try
        {
            return DiffusionKernels.BundledModel.Find(bundled);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>MSE (= 10^(−PSNR/10), data range 1) against NFE, log-log, one curve per (acceleration, method), TV-DC as levels.</summary>
    private static void Plot(EvaluationReport report, string path)
    {
        static double Mse(double psnr) => Math.Pow(10, -psnr / 10);
        var series = report.Study.Where(p => p.Nfe > 0).GroupBy(p => $"{p.Setting} {p.Method}")
            .Select(g => new PlotSeries(g.Key, g.OrderBy(p => p.Nfe).Select(p => ((double)p.Nfe, Mse(p.Psnr))).ToList())).ToList();
        var levels = report.Study.Where(p => p.Nfe == 0).Select(p => new PlotLevel($"{p.Setting} {p.Method}", Mse(p.Psnr))).ToList();
        if (series.Count > 0) LinePlot.SaveLogLog(path, "MRI reconstruction error against NFE", "NFE per image", "MSE (data range 1)", series, levels);
    }
}
