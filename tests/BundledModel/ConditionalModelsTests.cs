using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.BundledModel;

/// <summary>
/// The bundled image-conditioned models beat their baselines on small held-out sets: segmentation Dice above Otsu and
/// tuned region growing, translation PSNR above histogram matching. The folders come with the models; where a
/// checkout lacks one, its test says so and is skipped (not passed).
/// </summary>
public class ConditionalModelsTests
{
    private static string? Find(string relative)
    {
        try
        {
            return DiffusionKernels.BundledModel.Find(relative);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static readonly EnsembleOptions Options = new() { Samples = 4, Steps = 10 };

    [Test]
    public void TheSegmentationModelBeatsOtsuAndRegionGrowing()
    {
        var dir = Find(DiffusionKernels.BundledModel.SegmentationPath);
        if (dir is null) Assert.Ignore($"{DiffusionKernels.BundledModel.SegmentationPath} is not in this checkout");
        using var model = DiffusionModel.Open(dir, TestBackends.Cpu, 16, image: new ImageConditioning());
        int s = model.SampleShape[1];
        var report = SegmentationBenchmark.Run(model, HeldOutSets.LesionPhantoms(8, s, MedicalEvaluation.TestFirstIndex),
            HeldOutSets.LesionPhantoms(8, s, MedicalEvaluation.ValidationFirstIndex), Options);
        double Mean(int row) => double.Parse(report.Table.Rows[row][1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine(report.Table.ToMarkdown());
        Assert.That(Mean(0), Is.GreaterThan(Mean(2)), "Dice above Otsu");
        Assert.That(Mean(0), Is.GreaterThan(Mean(3)), "Dice above tuned region growing");
    }

    [Test]
    public void TheTranslationModelBeatsHistogramMatching()
    {
        var dir = Find(DiffusionKernels.BundledModel.TranslationPath);
        if (dir is null) Assert.Ignore($"{DiffusionKernels.BundledModel.TranslationPath} is not in this checkout");
        using var model = DiffusionModel.Open(dir, TestBackends.Cpu, 16, image: new ImageConditioning());
        int s = model.SampleShape[1];
        var report = TranslationBenchmark.Run(model, HeldOutSets.ContrastPairs(8, s, MedicalEvaluation.TestFirstIndex),
            HeldOutSets.ContrastPairs(8, s, MedicalEvaluation.ValidationFirstIndex), Options);
        double Mean(int row) => double.Parse(report.Table.Rows[row][1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine(report.Table.ToMarkdown());
        Assert.That(Mean(0), Is.GreaterThan(Mean(2)), "PSNR above histogram matching");
    }
}
