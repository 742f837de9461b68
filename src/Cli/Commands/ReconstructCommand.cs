using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk reconstruct</c>: a thin layer over <see cref="Reconstruction.Run"/>. The input is clean images [N, 1, H, W] in
/// [0, 1]; the library simulates the measurement (MRI k-space under an exact-acceleration mask, known pixels, a box
/// downsample, or noise), reconstructs with the diffusion prior, and the command writes the results and prints
/// PSNR/SSIM against the input beside the naive answer, the measurement residual and, with K ≥ 2 posterior samples,
/// the uncertainty calibration.
/// </summary>
internal static class ReconstructCommand
{
    public static readonly string[] Tasks = ["mri", "inpaint", "superres", "denoise"];
    public static readonly string[] Methods = ["auto", "ddnm", "time-travel", "pc", "repaint", "sdedit"];

    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "mri, inpaint, superres or denoise", Required = true };
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder (default: the bundled {SampleCommand.BundledModel})" };
        var input = new Option<string>("--input") { Description = "Clean images [N, 1, H, W] in [0, 1] (.npy); the measurement is simulated from them", Required = true };
        var mask = new Option<string?>("--mask") { Description = "0/1 mask .npy: k-space mask [H, W] for mri, or known-pixel mask [H, W] / [N, 1, H, W] for inpaint (1 = known)" };
        var acceleration = new Option<int>("--acceleration") { Description = "MRI acceleration when no --mask is given: exactly H/acceleration rows are sampled", DefaultValueFactory = _ => 4 };
        var maskType = new Option<string>("--mask-type") { Description = "MRI mask when no --mask: random or equispaced rows", DefaultValueFactory = _ => "random" };
        var centerFraction = new Option<double?>("--center-fraction") { Description = "MRI mask when no --mask: fully sampled centre fraction (default: 0.08 at 4×, 0.04 at 8×)" };
        var box = new Option<double>("--box") { Description = "Inpainting without --mask: fraction of the image area hidden by a centred square", DefaultValueFactory = _ => 0.25 };
        var factor = new Option<int>("--factor") { Description = "Super-resolution factor (box downsample, 2 or 4)", DefaultValueFactory = _ => 4 };
        var noise = new Option<double?>("--noise-sigma") { Description = "Measurement noise std in [0, 1] image units (default 0.1 for denoise, else 0)" };
        var method = new Option<string>("--method") { Description = "auto (repaint for inpaint, sdedit for denoise, else ddnm), ddnm, time-travel, pc (score-MRI predictor–corrector), repaint or sdedit", DefaultValueFactory = _ => "auto" };
        var sampler = new Option<string>("--sampler") { Description = "Solver of ddnm and sdedit (see dk samplers)", DefaultValueFactory = _ => "ddpm" };
        var steps = new Option<int>("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 50 };
        var jumpLength = new Option<int>("--jump-length") { Description = "RePaint and time travel: steps per jump", DefaultValueFactory = _ => 10 };
        var jumpCount = new Option<int>("--jump-count") { Description = "RePaint and time travel: passes over each jump (1 = none)", DefaultValueFactory = _ => 2 };
        var snr = new Option<double>("--snr") { Description = "pc: Langevin corrector signal-to-noise ratio", DefaultValueFactory = _ => 0.16 };
        var correctorSteps = new Option<int>("--corrector-steps") { Description = "pc: corrector steps per predictor step", DefaultValueFactory = _ => 1 };
        var posterior = new Option<int>("--posterior-samples") { Description = "K posterior samples per image: the result is their mean, std.npy their per-pixel std", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the mask, the measurement noise and the sampler", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Images per network call", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--output") { Description = "Output folder", DefaultValueFactory = _ => "recon" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder" };
        var allowNonFinite = CommonOptions.AllowNonFinite();
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var json = JsonSummary.Option();
        var command = new Command("reconstruct", "Reconstruct images from simulated measurements with the diffusion model as prior (MRI, inpainting, super-resolution, denoising)")
            { task, model, input, mask, acceleration, maskType, centerFraction, box, factor, noise, method, sampler, steps, jumpLength, jumpCount, snr, correctorSteps, posterior, seed, batch, output, force, allowNonFinite, device, precision, json };
        command.SetAction(r => JsonSummary.Run("reconstruct", r.GetValue(json), () => Run(new Request(r.GetValue(task)!, r.GetValue(model), r.GetValue(input)!, r.GetValue(mask), r.GetValue(acceleration),
            r.GetValue(maskType)!, r.GetValue(centerFraction), r.GetValue(box), r.GetValue(factor), r.GetValue(noise), r.GetValue(method)!, r.GetValue(sampler)!,
            r.GetValue(steps), r.GetValue(jumpLength), r.GetValue(jumpCount), r.GetValue(snr), r.GetValue(correctorSteps), r.GetValue(posterior), r.GetValue(seed),
            r.GetValue(batch), r.GetValue(output)!, r.GetValue(force), r.GetValue(device)!, r.GetValue(allowNonFinite), r.GetValue(precision)!))));
        return command;
    }

    public sealed record Request(string Task, string? Model, string Input, string? Mask, int Acceleration, string MaskType, double? CenterFraction, double Box, int Factor,
        double? NoiseSigma, string Method, string Sampler, int Steps, int JumpLength, int JumpCount, double Snr, int CorrectorSteps, int PosteriorSamples,
        ulong Seed, int Batch, string Output, bool Force, string Device, bool AllowNonFinite = false, string Precision = "fp32");

    /// <summary>Checks every option (naming it) and turns them into a library request; nothing runs before this passes.</summary>
    public static ReconstructionRequest ToRequest(Request q)
    {
        var task = q.Task switch
        {
            "mri" => InverseTask.Mri,
            "inpaint" => InverseTask.Inpaint,
            "superres" => InverseTask.SuperResolution,
            "denoise" => InverseTask.Denoise,
            _ => throw new ArgumentException($"--task must be one of {string.Join(", ", Tasks)}, found '{q.Task}'"),
        };
        var method = q.Method switch
        {
            "auto" => ReconstructionMethod.Auto,
            "ddnm" => ReconstructionMethod.Ddnm,
            "time-travel" => ReconstructionMethod.TimeTravel,
            "pc" => ReconstructionMethod.PredictorCorrector,
            "repaint" => ReconstructionMethod.RePaint,
            "sdedit" => ReconstructionMethod.SdEdit,
            _ => throw new ArgumentException($"--method must be one of {string.Join(", ", Methods)}, found '{q.Method}'"),
        };
        if (method == ReconstructionMethod.RePaint && task != InverseTask.Inpaint) throw new ArgumentException($"--method repaint is for --task inpaint, not {q.Task}");
        if (method == ReconstructionMethod.SdEdit && task != InverseTask.Denoise) throw new ArgumentException($"--method sdedit is for --task denoise, not {q.Task}");
        var solver = SamplerRegistry.Get(q.Sampler);
        MedicalInputs.InRange("--steps", q.Steps, 1, 100_000);
        MedicalInputs.InRange("--batch-size", q.Batch, 1, 4096);
        MedicalInputs.InRange("--jump-length", q.JumpLength, 1, 100_000);
        MedicalInputs.InRange("--jump-count", q.JumpCount, 1, 100);
        MedicalInputs.AboveAtMost("--snr", q.Snr, 0, 10);
        MedicalInputs.InRange("--corrector-steps", q.CorrectorSteps, 0, 100);
        MedicalInputs.InRange("--posterior-samples", q.PosteriorSamples, 1, 1000);
        double noise = q.NoiseSigma ?? (task == InverseTask.Denoise ? 0.1 : 0);
        if (!(noise >= 0 && noise <= 10) || !double.IsFinite(noise)) throw new ArgumentException($"--noise-sigma must be a finite number in [0, 10], found {noise}");
        if (task == InverseTask.Denoise && noise == 0) throw new ArgumentException("--task denoise needs --noise-sigma > 0");
        if (task == InverseTask.Mri && q.Mask is null && q.Acceleration is < 2 or > 64) throw new ArgumentException($"--acceleration must be in [2, 64], found {q.Acceleration}");
        if (task == InverseTask.Mri && q.MaskType is not ("random" or "equispaced")) throw new ArgumentException($"--mask-type must be random or equispaced, found '{q.MaskType}'");
        if (q.CenterFraction is { } cf) MedicalInputs.AboveAtMost("--center-fraction", cf, 0, 0.999);
        if (q.CenterFraction is not null && (task != InverseTask.Mri || q.Mask is not null)) throw new ArgumentException("--center-fraction applies to --task mri without --mask");
        if (task == InverseTask.Mri && q.Mask is null && q.CenterFraction is null && q.Acceleration is not (4 or 8))
            throw new ArgumentException($"--acceleration {q.Acceleration} has no default centre fraction (fastMRI's are for 4 and 8): give --center-fraction");
        if (task == InverseTask.Inpaint && !(q.Box > 0 && q.Box < 1)) throw new ArgumentException($"--box must be in (0, 1), found {q.Box}");
        if (task == InverseTask.SuperResolution && q.Factor is not (2 or 4)) throw new ArgumentException($"--factor must be 2 or 4, found {q.Factor}");
        if (q.Mask is not null && task is not (InverseTask.Mri or InverseTask.Inpaint)) throw new ArgumentException($"--mask applies to --task mri or inpaint, not {q.Task}");
        return new ReconstructionRequest
        {
            Task = task,
            Method = method,
            Acceleration = q.Acceleration,
            MaskType = q.MaskType,
            CenterFraction = q.CenterFraction,
            BoxArea = q.Box,
            Factor = q.Factor,
            NoiseSigma = noise,
            Solver = solver,
            Steps = q.Steps,
            JumpLength = q.JumpLength,
            JumpCount = q.JumpCount,
            Snr = q.Snr,
            CorrectorSteps = q.CorrectorSteps,
            PosteriorSamples = q.PosteriorSamples,
            Seed = q.Seed,
        }.Validate();
    }

    public static int Run(Request q)
    {
        var request = ToRequest(q) with { CheckFinite = !q.AllowNonFinite };
        var modelPath = q.Model ?? SampleCommand.FindBundledModel();
        var output = OutputFolder.Check(q.Output, q.Force, [.. CommonOptions.ModelPaths(modelPath), q.Input, q.Mask]);
        int count = MedicalInputs.Count(q.Input);

        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        using var cancel = ConsoleCancellation.Install();
        using var model = DiffusionModel.Open(modelPath, backend, Math.Min(q.Batch, count));
        MedicalInputs.RequireSsimSize("reconstruct", model.SampleShape);
        // Held at once: K posterior samples in model and image units, their mean and std, the naive answer, the
        // measurement (two planes for k-space), the images in both units and the error map.
        MedicalInputs.EnsureResultsFit($"--posterior-samples {request.PosteriorSamples} reconstructions of {count} images of {Shape.Format(model.SampleShape)}",
            count, model.SampleShape, 2L * request.PosteriorSamples + 9);
        var (images, _) = MedicalInputs.Images(q.Input, model.SampleShape, allowNonFinite: q.AllowNonFinite);
        int c = model.SampleShape[0], h = model.SampleShape[1], w = model.SampleShape[2];
        if (request.Task == InverseTask.SuperResolution && (h % q.Factor != 0 || w % q.Factor != 0)) throw new ArgumentException($"--factor {q.Factor} must divide the image size {h}×{w}");
        if (q.Mask is not null)
            request = request.Task == InverseTask.Mri
                ? request with { KspaceMask = MedicalInputs.Masks(q.Mask, 1, h, w, "--mask") }
                : request with { KnownMask = MedicalInputs.Masks(q.Mask, count, h, w, "--mask") };
        request = request with { Cancellation = cancel.Token };

        var clock = Stopwatch.StartNew();
        int batches = (count + model.Batch - 1) / model.Batch;
        var result = StepProgress.Run("reconstructing", batches * StepsPerBatch(request) * request.PosteriorSamples,
            p => Reconstruction.Run(model, images, count, request, (k, r) => p(new RunProgress(k * count + r.SamplesDone, count * request.PosteriorSamples, r.Step))));
        backend.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;

        MedicalInputs.RequireFiniteResults(q.AllowNonFinite, ("recon.npy", result.Estimate), ("naive.npy", result.Naive), ("std.npy", result.Std),
            ("measurement.npy", result.Measurement));
        int[] shape = [count, c, h, w];
        var error = new float[images.Length];
        for (int i = 0; i < error.Length; i++) error[i] = Math.Abs(result.Estimate[i] - images[i]);
        var nq = MedicalInputs.Quality(images, result.Naive, count, c, h, w);
        var rq = MedicalInputs.Quality(images, result.Estimate, count, c, h, w);
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "recon.npy"), result.Estimate, shape);
            Npy.Write(Path.Combine(temp, "naive.npy"), result.Naive, shape);
            Npy.Write(Path.Combine(temp, "measurement.npy"), result.Measurement, result.MeasurementShape);
            if (result.Mask is not null) Npy.Write(Path.Combine(temp, "mask.npy"), result.Mask, result.MaskShape!);
            if (result.Std is not null)
            {
                Npy.Write(Path.Combine(temp, "std.npy"), result.Std, shape);
                MedicalInputs.SavePanels(temp, "std", result.Std, shape, 0, 0.25f);
            }
            MedicalInputs.SavePanels(temp, "input", images, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "naive", result.Naive, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "recon", result.Estimate, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "error", error, shape, 0, 0.25f);
        });
        string accel = result.EffectiveAcceleration is { } a ? string.Create(CultureInfo.InvariantCulture, $", effective acceleration {a:F2}×") : "";
        Console.WriteLine($"device {backend.Name} | task {q.Task}{accel}, method {result.MethodName}, {request.Steps} steps, NFE {result.EvaluationsPerImage} per image"
                          + $"{(request.PosteriorSamples > 1 ? $" × {request.PosteriorSamples} posterior samples" : "")} | {count} images in {seconds:F2} s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.NaiveName,-24} PSNR {nq.Psnr:F2} ± {nq.PsnrStd:F2} dB  SSIM {nq.Ssim:F4} ± {nq.SsimStd:F4}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"diffusion (" + q.Method + ")",-24} PSNR {rq.Psnr:F2} ± {rq.PsnrStd:F2} dB  SSIM {rq.Ssim:F4} ± {rq.SsimStd:F4}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"measurement residual ‖A·x̂ − y‖/‖y‖: mean {result.Residual.Average():E2}, max {result.Residual.Max():E2}"));
        if (result.Std is not null)
        {
            var (corr, coverage) = Calibration.Compute(images, result.Estimate, result.Std);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"uncertainty (K = {request.PosteriorSamples}): corr(|error|, std) {corr:F3}, coverage of the truth by ±2σ {coverage:P1}"));
            JsonSummary.Metric("std_error_correlation", corr);
            JsonSummary.Metric("coverage_2sigma", coverage);
        }
        Console.WriteLine($"wrote {output}");
        if (JsonSummary.Recording)
        {
            JsonSummary.Set("device", backend.Name);
            JsonSummary.Set("output", Path.GetFullPath(output));
            foreach (var (key, value) in new (string, object?)[]
            {
                ("task", q.Task), ("model", modelPath), ("input", q.Input), ("method", result.MethodName), ("steps", request.Steps), ("seed", q.Seed),
                ("images", count), ("batch_size", model.Batch), ("posterior_samples", request.PosteriorSamples), ("effective_acceleration", result.EffectiveAcceleration),
            })
                JsonSummary.Setting(key, value);
            JsonSummary.Timing("reconstruction_seconds", seconds);
            JsonSummary.Metric("nfe_per_image", result.EvaluationsPerImage);
            JsonSummary.Metric(result.NaiveName, new System.Text.Json.Nodes.JsonObject { ["psnr"] = nq.Psnr, ["psnr_std"] = nq.PsnrStd, ["ssim"] = nq.Ssim, ["ssim_std"] = nq.SsimStd });
            JsonSummary.Metric("diffusion", new System.Text.Json.Nodes.JsonObject { ["psnr"] = rq.Psnr, ["psnr_std"] = rq.PsnrStd, ["ssim"] = rq.Ssim, ["ssim_std"] = rq.SsimStd });
            JsonSummary.Metric("residual_mean", result.Residual.Average());
            JsonSummary.Metric("residual_max", result.Residual.Max());
            JsonSummary.FilesUnder(output);
        }
        return 0;
    }

    /// <summary>Progress callbacks per batch: one per step, and one per walk step for the resampling methods.</summary>
    private static int StepsPerBatch(ReconstructionRequest q) => q.ResolvedMethod switch
    {
        ReconstructionMethod.RePaint or ReconstructionMethod.TimeTravel => ResamplingWalk.Evaluations(q.Steps, q.JumpLength, q.JumpCount),
        _ => q.Steps,
    };
}
