using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk sample</c>: draws samples from a diffusers U-Net folder or a Gaussian-mixture spec (<c>gmm:FILE</c>) and writes
/// samples.npy plus PNGs into a fresh output folder (built aside and moved into place, so an interrupted run leaves nothing).
/// </summary>
internal static class SampleCommand
{
    /// <summary>Where the bundled model lives, relative to the program, the repository root or the working directory.</summary>
    public const string BundledModel = DiffusionKernels.BundledModel.RelativePath;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder, or gmm:spec.json (default: the bundled {BundledModel})" };
        var sampler = new Option<string?>("--sampler")
        {
            Description = $"Solver (see dk samplers), or {Diffusers}: the class the model's scheduler_config.json names, as diffusers runs it "
                          + $"(default when it names one, else {DefaultSampler})",
        };
        var steps = new Option<int>("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 20 };
        var seed = new Option<ulong>("--seed") { Description = "Noise seed; sample n of a seed is the same for any batch size", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--num-samples") { Description = "Samples to draw", DefaultValueFactory = _ => 16 };
        var batch = new Option<int>("--batch-size") { Description = "Samples per network call", DefaultValueFactory = _ => 16 };
        var grid = new Option<string?>("--sigmas") { Description = "Noise-level grid of an explicit --sampler: karras (default), exponential, or discrete (the training timesteps, spaced as the model's timestep_spacing)" };
        var betaSchedule = new Option<string?>("--beta-schedule") { Description = "Override the model's beta_schedule" };
        var prediction = new Option<string?>("--prediction-type") { Description = "Override the model's prediction_type (epsilon, v_prediction, sample)" };
        var clip = new Option<bool?>("--clip-sample") { Description = "Clamp x̂₀ to the model's clip_sample_range (default: the model's scheduler_config.json)" };
        var init = new Option<string?>("--init") { Description = "Start from this x_T (.npy, [N, ...] standard normal noise) instead of drawing it" };
        var initImage = new Option<string?>("--init-image") { Description = "img2img: start from these images (.npy [N, C, H, W] in [0, 1], or one PNG for every sample) noised to the grid's level at --strength" };
        var strength = new Option<double>("--strength") { Description = "img2img: fraction of the grid to run from the noised --init-image (1 = from pure noise)", DefaultValueFactory = _ => 0.6 };
        var classLabel = new Option<long?>("--class-label") { Description = "Class to sample from a class-conditional model" };
        var guidance = new Option<double?>("--guidance-scale") { Description = "Classifier-free guidance scale w for a class-conditional model (1 = plain conditional)" };
        var nullClass = new Option<long?>("--null-class") { Description = "Label of the dropped condition for guidance (default: the class table's last row)" };
        var condition = new Option<string?>("--condition")
        {
            Description = "Image-conditioned model: condition images in [0, 1] (.npy [N, C, H, W], or one PNG), one sample per condition, or --num-samples K each (an ensemble; default 1)",
        };
        var output = new Option<string>("--output") { Description = "Output folder (samples.npy, grid.png, sample_NNNN.png)", DefaultValueFactory = _ => "samples" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder that dk wrote" };
        var allowNonFinite = CommonOptions.AllowNonFinite();
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var cudaGraph = CommonOptions.CudaGraph();
        var solverSettings = new SolverSettingOptions();
        var dataset = new DatasetOptions();
        var json = JsonSummary.Option();
        var command = new Command("sample", "Draw samples with a diffusion model")
            { model, sampler, steps, seed, count, batch, grid, betaSchedule, prediction, clip, init, initImage, strength, classLabel, guidance, nullClass, condition, output, force, allowNonFinite, device, precision, cudaGraph, json };
        foreach (var option in solverSettings.Options) command.Options.Add(option);
        foreach (var option in dataset.Options) command.Options.Add(option);
        command.SetAction(r => JsonSummary.Run("sample", r.GetValue(json), () => Run(new SampleRequest(
            r.GetValue(model), r.GetValue(sampler), r.GetValue(steps), r.GetValue(seed), r.GetValue(count), r.GetValue(batch), solverSettings.Given(r),
            r.GetValue(grid), r.GetValue(betaSchedule), r.GetValue(prediction), r.GetValue(clip), r.GetValue(init), r.GetValue(initImage), r.GetValue(strength), r.GetValue(classLabel), r.GetValue(guidance), r.GetValue(nullClass), r.GetValue(output)!,
            r.GetValue(force), r.GetValue(device)!, r.GetValue(allowNonFinite), dataset.Given(r), r.GetValue(condition),
            CountGiven: r.GetResult(count) is { Implicit: false }, Precision: r.GetValue(precision)!, CudaGraph: r.GetValue(cudaGraph)!))));
        return command;
    }

    /// <summary>The --sampler value that runs the model's own diffusers scheduler class.</summary>
    public const string Diffusers = "diffusers";

    /// <summary>The explicit sampler used when the model's scheduler config names no class.</summary>
    public const string DefaultSampler = "dpmpp_2m_sde";

    public sealed record SampleRequest(string? Model, string? Sampler, int Steps, ulong Seed, int Count, int Batch, IReadOnlyList<SolverSettingValue> SolverSettings, string? Sigmas,
        string? BetaSchedule, string? Prediction, bool? ClipSample, string? Init, string? InitImage, double Strength, long? ClassLabel, double? Guidance, long? NullClass, string Output, bool Force, string Device, bool AllowNonFinite = false,
        DatasetRequest? Dataset = null, string? Condition = null, bool CountGiven = true, string Precision = "fp32", string CudaGraph = "off");

    public static int Run(SampleRequest q)
    {
        // With conditions, one sample each unless --num-samples asks for an ensemble.
        if (q.Condition is not null && !q.CountGiven) q = q with { Count = 1 };
        var explicitSolver = q.Sampler is null or Diffusers ? null : SolverSettingOptions.Apply(ExplicitSolver(q.Sampler), q.SolverSettings);
        CommonOptions.InRange("--steps", q.Steps, 1, StudyCommand.MaxSteps);
        CommonOptions.AtLeast("--num-samples", q.Count, 1);
        int batchSize = Math.Min(CommonOptions.AtLeast("--batch-size", q.Batch, 1), q.Count);
        if (q.Guidance is { } w && !(w >= 0 && double.IsFinite(w))) throw new ArgumentException($"--guidance-scale must be a finite number ≥ 0, found {w}");
        if (q.Sigmas is not (null or "karras" or "exponential" or "discrete")) throw new ArgumentException($"--sigmas must be karras, exponential or discrete, found '{q.Sigmas}'");
        if (!(q.Strength > 0 && q.Strength <= 1)) throw new ArgumentException($"--strength must be in (0, 1], found {q.Strength}");
        var modelPath = q.Model ?? FindBundledModel();
        if (q.Init is not null && q.InitImage is not null) throw new ArgumentException("give --init (noise) or --init-image (img2img), not both");
        if (q.Condition is not null && q.ClassLabel is not null) throw new ArgumentException("--condition and --class-label together are not supported");
        if (q.Condition is not null && q.Dataset is { Streaming: true }) throw new ArgumentException("--condition does not stream datasets; draw the conditions' samples into one folder");
        string?[] inputs = [.. CommonOptions.ModelPaths(modelPath), q.Init, q.InitImage, q.Condition];
        var output = q.Dataset is { Streaming: true } data ? DatasetSampling.CheckOutput(q, data, inputs) : OutputFolder.Check(q.Output, q.Force, inputs);
        var initNoise = q.Init is null ? null : Npy.Read(q.Init);
        if (initNoise is not null) CommonOptions.RequireFinite($"--init {q.Init}", initNoise.AsFloat32(), q.AllowNonFinite);

        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        CommonOptions.ApplyCudaGraph(backend, q.CudaGraph);
        using var cancel = ConsoleCancellation.Install();
        if (q.ClassLabel is null && q.Condition is null && q.Guidance is not null) throw new ArgumentException("--guidance-scale needs --class-label or --condition");
        if (q.ClassLabel is null && q.NullClass is not null) throw new ArgumentException("--null-class needs --class-label");
        if (q.Guidance is null && q.NullClass is not null) throw new ArgumentException("--null-class applies with --guidance-scale only");
        using var pipeline = DiffusionPipeline.Open(modelPath, backend);
        var conditions = Conditions(q, modelPath, pipeline.ConditionShape);
        var request = new GenerationRequest
        {
            Steps = q.Steps,
            Seed = q.Seed,
            NumSamples = q.Count,
            BatchSize = conditions is null ? batchSize : q.Batch,
            ClassLabel = q.ClassLabel,
            GuidanceScale = q.Guidance,
            NullClassLabel = q.NullClass,
            ScheduleOverrides = new ScheduleOverrides(q.BetaSchedule, q.Prediction, q.ClipSample),
            CheckFinite = !q.AllowNonFinite,
            InitNoise = initNoise?.AsFloat32(),
            Condition = conditions,
        };
        // Samples in all: one run of --num-samples, or --num-samples per condition.
        int total = conditions is null ? q.Count : checked(conditions.Length / pipeline.ConditionShape!.Aggregate(1, (a, b) => a * b) * q.Count);
        var model = RequestFlags.Map(() => pipeline.Prepare(request));
        // Images in [0, 1] (.npy, or a PNG used for every sample); the pipeline maps them to the model's [-1, 1].
        var initImage = q.InitImage is null ? null : InitImages.Read(q.InitImage, model.SampleShape[0]);
        if (initImage is not null) CommonOptions.RequireFinite($"--init-image {q.InitImage}", initImage.Values, q.AllowNonFinite);
        request = request with { InitImage = initImage?.Values, Strength = q.Strength };
        if (q.Dataset is not { Streaming: true }) MemoryBudget.HostArray($"--num-samples {total} samples of {Shape.Format(model.SampleShape)}", MemoryBudget.Elements("--num-samples", total, model.SampleLength));
        // The model's own diffusers scheduler when asked, or by default when its scheduler_config.json names a class.
        request = explicitSolver is null && (q.Sampler == Diffusers || model.Schedule.ClassName is not null)
            ? request with { Sampler = Diffusers, Eta = DiffusersSchedulerEta(q, model) }
            : request with { Solver = explicitSolver ?? SolverSettingOptions.Apply(SamplerRegistry.Get(DefaultSampler), q.SolverSettings), SigmaGrid = q.Sigmas };
        string counted = conditions is null ? "--num-samples" : $"{total / q.Count} --condition images × --num-samples {q.Count}";
        if (initNoise is not null && initNoise.AsFloat32().Length != (long)total * model.SampleLength)
            throw new ShapeMismatchException($"{q.Init}: --init must hold {total} samples of {Shape.Format(model.SampleShape)} ({counted}), found {Shape.Format(initNoise.Shape)}");
        if (initImage is not null && initImage.Values.Length != (long)total * model.SampleLength && !(initImage.Single && initImage.Values.Length == model.SampleLength))
            throw new ShapeMismatchException($"{q.InitImage}: --init-image must hold {total} images of {Shape.Format(model.SampleShape)} ({counted}), found {Shape.Format(initImage.Shape)}");
        if (q.Dataset is { Streaming: true } streaming)
        {
            // A dataset holds one chunk in memory at a time: chunk samples [first, first + count) are those of the whole run.
            bool solverRun = request.Sampler != Diffusers;
            string samplerName = solverRun ? request.Solver!.Name : $"{Diffusers} {model.Schedule.ClassName}";
            return DatasetSampling.Run(q, streaming, output, modelPath, model, samplerName, solverRun,
                (first, n, report) => pipeline.Generate(request with { NumSamples = n, FirstSampleIndex = first }, new ProgressReport(report), cancel.Token).Samples,
                cancel.Token);
        }
        var result = StepProgress.Run("sampling", (int)Math.Min(int.MaxValue, pipeline.TotalSteps(request)),
            report => pipeline.Generate(request, new ProgressReport(report), cancel.Token));
        var samples = result.Samples;
        int batches = (total + model.Batch - 1) / model.Batch;
        CommonOptions.RequireFinite("samples.npy", samples, allow: true);
        int[] shape = [total, .. model.SampleShape];
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "samples.npy"), samples, shape);
            if (shape.Length == 4 && shape[2] >= 8 && shape[3] >= 8)
            {
                ImageWriter.SaveGrid(Path.Combine(temp, "grid.png"), samples, shape, -1f, 1f);
                for (int k = 0; k < total; k++) ImageWriter.SavePng(Path.Combine(temp, $"sample_{k:D4}.png"), samples, shape, k, -1f, 1f);
            }
        });
        double seconds = result.Elapsed.TotalSeconds;
        Console.WriteLine($"device {backend.Name} | sampler {result.Sampler}, {q.Steps} steps, NFE {result.Evaluations}{(initImage is null ? "" : $", img2img from σ {result.StartSigma:G3}")} "
                          + $"({batches} batch{(batches == 1 ? "" : "es")} of {model.Batch}) | {(conditions is null ? "" : $"{total / q.Count} conditions × {q.Count}, ")}{total} samples in {seconds:F2} s, {total / seconds:F2} images/s");
        Console.WriteLine($"wrote {output}");
        RecordJson(q, modelPath, model, result, batchSize, output);
        return 0;
    }

    /// <summary>The <c>--json</c> summary of a run that wrote <paramref name="output"/>.</summary>
    private static void RecordJson(SampleRequest q, string modelPath, DiffusionModel model, GenerationResult result, int batchSize, string output)
    {
        if (!JsonSummary.Recording) return;
        JsonSummary.Set("device", result.Device);
        JsonSummary.Set("output", Path.GetFullPath(output));
        foreach (var (key, value) in new (string, object?)[]
        {
            ("model", modelPath), ("sampler", result.Sampler), ("steps", q.Steps), ("seed", q.Seed), ("num_samples", q.Count), ("batch_size", batchSize),
            ("sigmas", q.Sigmas), ("init", q.Init), ("init_image", q.InitImage), ("strength", q.InitImage is null ? null : q.Strength),
            ("class_label", q.ClassLabel), ("guidance_scale", q.Guidance), ("sample_shape", model.SampleShape),
        })
            JsonSummary.Setting(key, value);
        JsonSummary.Timing("sampling_seconds", result.Elapsed.TotalSeconds);
        JsonSummary.Metric("nfe", result.Evaluations);
        JsonSummary.Metric("images_per_second", result.Count / result.Elapsed.TotalSeconds);
        JsonSummary.Metric("start_sigma", result.StartSigma);
        JsonSummary.FilesUnder(output);
    }

    /// <summary>
    /// The --condition images in the model's units, checked against the model: an image-conditioned model needs them, any
    /// other refuses them.
    /// </summary>
    private static float[]? Conditions(SampleRequest q, string modelPath, int[]? conditionShape)
    {
        if (conditionShape is null)
            return q.Condition is null ? null
                : throw new ArgumentException($"--condition {q.Condition}: the model {modelPath} is not image-conditioned (in_channels = out_channels); it takes no condition");
        if (q.Condition is null)
            throw new ArgumentException($"{modelPath}: the model is image-conditioned ({conditionShape[0]} condition channel{(conditionShape[0] == 1 ? "" : "s")} of {conditionShape[1]}×{conditionShape[2]}); " +
                "give --condition (an .npy [N, C, H, W] or a PNG, in [0, 1])");
        return ConditionImages.Read("--condition", q.Condition, conditionShape, q.AllowNonFinite);
    }

    /// <summary>An explicit solver by name; the message lists every name --sampler takes.</summary>
    private static Solver ExplicitSolver(string name) => SamplerRegistry.Get(name, Diffusers);

    /// <summary>
    /// The η for the model's diffusers scheduler; options that belong to the explicit samplers are refused (by their flags),
    /// and keys the scheduler class does not read are noted.
    /// </summary>
    private static double? DiffusersSchedulerEta(SampleRequest q, DiffusionModel model)
    {
        string how = q.Sampler == Diffusers ? "--sampler diffusers" : $"the model's {model.Schedule.ClassName} (the default; pick an explicit --sampler to use them)";
        if (q.Sigmas is not null) throw new ArgumentException($"--sigmas applies to explicit samplers; {how} uses the scheduler's own grid");
        foreach (var g in q.SolverSettings.Where(g => g.Setting != "eta"))
            throw new ArgumentException($"{g.Flag} applies to explicit samplers; {how} follows the scheduler config");
        if (q.InitImage is not null) throw new ArgumentException($"--init-image (img2img) runs with an explicit --sampler, not {how}");
        double? eta = q.SolverSettings.FirstOrDefault(g => g.Setting == "eta")?.Value is double e ? e : null;
        var scheduler = DiffusersScheduler.FromConfig(model.Schedule, eta);
        if (model.Schedule.IgnoredKeys.Count > 0)
            Console.WriteLine($"note: {model.Schedule.Source}: {scheduler.ClassName} does not read {string.Join(", ", model.Schedule.IgnoredKeys)} (diffusers ignores them too)");
        return eta;
    }

    /// <summary>Step reports of the pipeline passed on to the progress display.</summary>
    private sealed class ProgressReport(Action<RunProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress p) =>
            report(new RunProgress(p.SamplesDone, p.Samples, new StepInfo(p.Step, p.Steps, p.Sigma, p.NextSigma, p.Evaluations)));
    }

    /// <summary>The bundled model folder: next to the program (the tool or the package puts it there), above it, or in the working directory.</summary>
    public static string FindBundledModel()
    {
        try
        {
            return DiffusionKernels.BundledModel.Find();
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException($"{e.Message} (pass --model DIR or --model gmm:spec.json)", e);
        }
    }
}
