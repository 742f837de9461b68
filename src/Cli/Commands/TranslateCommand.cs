using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk translate</c>: contrast A → B with an image-conditioned model, a thin layer over
/// <see cref="TranslationBenchmark"/> and <see cref="DiffusionTranslation"/>: the mean of K samples and their spread;
/// against the true B, PSNR and SSIM beside histogram matching and the best intensity lookup, both fitted on
/// validation pairs.
/// </summary>
internal static class TranslateCommand
{
    public static Command Create()
    {
        var options = new ConditionalInputs.Declared
        {
            Model = new("--model") { Description = $"An image-conditioned UNet2DModel folder, [B, A] → B (default: the bundled {DiffusionKernels.BundledModel.TranslationPath})" },
            Input = new("--input") { Description = "Contrast-A images [N, 1, H, W] in [0, 1] (.npy); default: --n held-out phantom pairs" },
            Truth = new("--truth") { Description = "The true contrast-B images of --input (.npy): prints PSNR/SSIM beside the baselines" },
            N = ConditionalInputs.WithDefault("--n", "Held-out phantom pairs when there is no --input", 16),
            ValidationN = ConditionalInputs.WithDefault("--validation-n", "Validation phantom pairs the baselines are fitted on", 8),
            Samples = ConditionalInputs.WithDefault("--num-samples", "Samples per image K (their mean is the estimate)", 8),
            Output = ConditionalInputs.WithDefault("--output", "Output folder (translated.npy, std.npy, sample.npy, PNGs, metrics.md)", "translate"),
        };
        var command = options.AddTo(new Command("translate", "Contrast translation (A → B) by an image-conditioned diffusion model: ensemble mean and spread, PSNR/SSIM beside histogram matching"));
        command.SetAction(r => Run(options.Read(r), r.GetValue(options.Input), r.GetValue(options.Truth)));
        return command;
    }

    public static int Run(ConditionalInputs.Common q, string? input, string? truthPath)
    {
        ConditionalInputs.Check(q);
        if (truthPath is not null && input is null) throw new ArgumentException("--truth goes with --input (the held-out phantom pairs bring their own B)");
        var modelPath = ConditionalInputs.ModelPath(q.Model, DiffusionKernels.BundledModel.TranslationPath);
        var output = OutputFolder.Check(q.Output, q.Force, [.. CommonOptions.ModelPaths(modelPath), input, truthPath]);
        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        using var cancel = ConsoleCancellation.Install();
        using var model = ConditionalInputs.Open(modelPath, backend, q.Batch);
        int s = model.SampleShape[1];
        float[] a;
        float[]? b;
        int count;
        if (input is null)
        {
            var set = HeldOutSets.ContrastPairs(q.N, s, MedicalEvaluation.TestFirstIndex);
            (a, b, count) = (set.Source, set.Target, q.N);
        }
        else
        {
            (a, count) = MedicalInputs.Images(input, model.SampleShape, allowNonFinite: q.AllowNonFinite);
            b = truthPath is null ? null : MedicalInputs.Images(truthPath, model.SampleShape, "--truth", q.AllowNonFinite) is var (values, m) && m == count ? values
                : throw new ShapeMismatchException($"--truth {truthPath}: must hold {count} images, one per --input image");
        }
        MedicalInputs.EnsureResultsFit($"translation of {count} images", count, model.SampleShape, 2L * q.Samples + 8);
        var options = ConditionalInputs.Ensemble(q, cancel.Token);
        var clock = Stopwatch.StartNew();
        TranslationResult result;
        string? table = null;
        if (b is not null)
        {
            var report = TranslationBenchmark.Run(model, new ImagePairs(a, b, count, 1, s, s), HeldOutSets.ContrastPairs(q.ValidationN, s, MedicalEvaluation.ValidationFirstIndex), options);
            result = report.Diffusion;
            table = report.Table.ToMarkdown();
        }
        else result = DiffusionTranslation.Translate(model, a, count, options);
        double seconds = clock.Elapsed.TotalSeconds;
        MedicalInputs.RequireFiniteResults(q.AllowNonFinite, ("translated.npy", result.Mean), ("std.npy", result.Std));
        int[] shape = [count, 1, s, s];
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "translated.npy"), result.Mean, shape);
            Npy.Write(Path.Combine(temp, "std.npy"), result.Std, shape);
            Npy.Write(Path.Combine(temp, "sample.npy"), result.First, shape);
            MedicalInputs.SavePanels(temp, "input", a, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "translated", result.Mean, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "std", result.Std, shape, 0, Math.Max(1e-6f, result.Std.Max()));
            if (table is not null) File.WriteAllText(Path.Combine(temp, "metrics.md"), table);
        });
        Console.WriteLine($"device {backend.Name} | {model.Source}: {count} images × K = {q.Samples}, {q.Steps} steps of {q.Sampler} | {seconds:F1} s"
                          + (input is null ? $" | {ConditionalInputs.Indices}" : ""));
        if (table is not null) Console.WriteLine(table);
        Console.WriteLine($"wrote {output}");
        return 0;
    }
}
