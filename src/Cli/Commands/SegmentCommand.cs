using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk segment</c>: lesion masks from an image-conditioned model (image → mask), a thin layer over
/// <see cref="SegmentationBenchmark"/> and <see cref="DiffusionSegmentation"/>: K samples per image, their mean as a
/// soft mask cut at a threshold chosen on validation phantoms, their std as uncertainty; against true masks, Dice, IoU
/// and HD95 beside Otsu and a tuned region-growing baseline.
/// </summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var options = new ConditionalInputs.Declared
        {
            Model = new("--model") { Description = $"An image-conditioned UNet2DModel folder, [mask, image] → mask (default: the bundled {DiffusionKernels.BundledModel.SegmentationPath})" },
            Input = new("--input") { Description = "Images [N, 1, H, W] in [0, 1] (.npy); default: --n held-out lesion phantoms" },
            Truth = new("--truth") { Description = "True 0/1 masks [N, 1, H, W] of --input (.npy): prints Dice, IoU, HD95 beside the baselines" },
            N = ConditionalInputs.WithDefault("--n", "Held-out lesion phantoms when there is no --input", 16),
            ValidationN = ConditionalInputs.WithDefault("--validation-n", "Validation lesion phantoms that choose the threshold and tune the baseline", 8),
            Samples = ConditionalInputs.WithDefault("--num-samples", "Samples per image K (the ensemble)", 8),
            Output = ConditionalInputs.WithDefault("--output", "Output folder (soft_mask.npy, uncertainty.npy, mask.npy, PNGs, metrics.md)", "segment"),
        };
        var threshold = new Option<double?>("--threshold") { Description = "Cut the soft mask here instead of at the threshold chosen on validation phantoms" };
        var command = options.AddTo(new Command("segment", "Lesion segmentation by an image-conditioned diffusion model: ensemble mean, uncertainty, Dice/IoU/HD95 beside Otsu and region growing"), threshold);
        command.SetAction(r => Run(options.Read(r), r.GetValue(options.Input), r.GetValue(options.Truth), r.GetValue(threshold)));
        return command;
    }

    public static int Run(ConditionalInputs.Common q, string? input, string? truthPath, double? threshold)
    {
        ConditionalInputs.Check(q);
        if (threshold is { } t && !(t is >= 0 and <= 1)) throw new ArgumentException($"--threshold must be in [0, 1], found {t}");
        if (truthPath is not null && input is null) throw new ArgumentException("--truth goes with --input (the held-out phantoms bring their own masks)");
        var modelPath = ConditionalInputs.ModelPath(q.Model, DiffusionKernels.BundledModel.SegmentationPath);
        var output = OutputFolder.Check(q.Output, q.Force, [.. CommonOptions.ModelPaths(modelPath), input, truthPath]);
        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        using var cancel = ConsoleCancellation.Install();
        using var model = ConditionalInputs.Open(modelPath, backend, q.Batch);
        int s = model.SampleShape[1];
        float[] images;
        float[]? masks;
        int count;
        if (input is null)
        {
            var set = HeldOutSets.LesionPhantoms(q.N, s, MedicalEvaluation.TestFirstIndex);
            (images, masks, count) = (set.Images, set.Masks, q.N);
        }
        else
        {
            (images, count) = MedicalInputs.Images(input, model.SampleShape, allowNonFinite: q.AllowNonFinite);
            masks = truthPath is null ? null : MedicalInputs.Masks(truthPath, count, s, s, "--truth");
        }
        MedicalInputs.EnsureResultsFit($"segmentation of {count} images", count, model.SampleShape, 2L * q.Samples + 8);
        var options = ConditionalInputs.Ensemble(q, cancel.Token);
        var validation = HeldOutSets.LesionPhantoms(q.ValidationN, s, MedicalEvaluation.ValidationFirstIndex);
        var clock = Stopwatch.StartNew();
        SegmentationResult result;
        string? table = null;
        if (masks is not null)
        {
            var report = SegmentationBenchmark.Run(model, new LabelledImages(images, masks, count, s, s), validation, options, threshold, Console.WriteLine);
            result = report.Diffusion;
            table = report.Table.ToMarkdown();
        }
        else
        {
            double cut = threshold ?? DiffusionSegmentation.ChooseThreshold(ConditionalEnsemble.Run(model, validation.Images, validation.Count, options).Mean, validation.Masks, validation.Count).Threshold;
            result = DiffusionSegmentation.Segment(model, images, count, options, cut);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        MedicalInputs.RequireFiniteResults(q.AllowNonFinite, ("soft_mask.npy", result.SoftMask), ("uncertainty.npy", result.Uncertainty));
        int[] shape = [count, 1, s, s];
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "soft_mask.npy"), result.SoftMask, shape);
            Npy.Write(Path.Combine(temp, "uncertainty.npy"), result.Uncertainty, shape);
            Npy.Write(Path.Combine(temp, "mask.npy"), result.Mask, shape);
            MedicalInputs.SavePanels(temp, "input", images, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "soft_mask", result.SoftMask, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "uncertainty", result.Uncertainty, shape, 0, Math.Max(1e-6f, result.Uncertainty.Max()));
            if (table is not null) File.WriteAllText(Path.Combine(temp, "metrics.md"), table);
        });
        Console.WriteLine($"device {backend.Name} | {model.Source}: {count} images × K = {q.Samples}, {q.Steps} steps of {q.Sampler}, threshold {result.Threshold:F3} | {seconds:F1} s"
                          + (input is null ? $" | {ConditionalInputs.Indices}" : ""));
        if (table is not null) Console.WriteLine(table);
        Console.WriteLine($"wrote {output}");
        return 0;
    }
}
