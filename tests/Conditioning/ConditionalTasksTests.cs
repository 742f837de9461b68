using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>
/// Segmentation and translation on a tiny random image-conditioned U-Net: the ensemble is the pipeline's samples,
/// the benchmarks make their rows, and <c>dk segment</c> / <c>dk translate</c> write their outputs or refuse models
/// that do not fit. (The bundled models' quality is <see cref="BundledModel.ConditionalModelsTests"/>.)
/// </summary>
public class ConditionalTasksTests
{
    private const int S = 16;
    private string _dir = "", _model = "";

    [OneTimeSetUp]
    public void Write()
    {
        _dir = Directory.CreateTempSubdirectory("dk-condtasks-").FullName;
        _model = TinyModel.Write(Path.Combine(_dir, "model"), configure: c => { c["in_channels"] = 2; c["sample_size"] = S; });
    }

    [OneTimeTearDown]
    public void Remove() => Directory.Delete(_dir, true);

    [Test]
    public void TheEnsembleIsThePipelinesSamplesInImageUnits()
    {
        var images = HeldOutSets.LesionPhantoms(2, S, 5).Images;
        var options = new EnsembleOptions { Samples = 3, Steps = 3, Seed = 4 };
        EnsembleResult e;
        using (var model = DiffusionModel.Open(_model, TestBackends.Cpu, 6, image: new ImageConditioning()))
            e = ConditionalEnsemble.Run(model, images, 2, options);
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var samples = pipeline.Generate(new GenerationRequest { Condition = Measurements.ToModel(images), NumSamples = 3, Steps = 3, Seed = 4, Sampler = "dpmpp_2m", BatchSize = 6 }).Samples;
        int plane = S * S;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < plane; i += 7)
            {
                var v = Enumerable.Range(0, 3).Select(k => Math.Clamp((samples[(n * 3 + k) * plane + i] + 1) / 2.0, 0, 1)).ToArray();
                double mean = v.Average();
                // float32 results of the same samples, averaged in double: a few ulps.
                Assert.That(e.Mean[n * plane + i], Is.EqualTo(mean).Within(1e-6));
                Assert.That(e.Std[n * plane + i], Is.EqualTo(Math.Sqrt(v.Average(x => (x - mean) * (x - mean)))).Within(1e-5));
                Assert.That(e.First[n * plane + i], Is.EqualTo(v[0]).Within(1e-7));
            }
        Assert.That(e.EvaluationsPerImage, Is.EqualTo(3 * 3), "dpmpp_2m takes one evaluation per step, for each of the K = 3 samples");
    }

    [Test]
    public void TheBenchmarksMakeTheirRows()
    {
        using var model = DiffusionModel.Open(_model, TestBackends.Cpu, 8, image: new ImageConditioning());
        var options = new EnsembleOptions { Samples = 2, Steps = 2 };
        var seg = SegmentationBenchmark.Run(model, HeldOutSets.LesionPhantoms(3, S, 100), HeldOutSets.LesionPhantoms(2, S, 200), options);
        var methods = seg.Table.Rows.Select(r => r[0]).ToList();
        Assert.That(methods[0], Does.StartWith("diffusion, mean of K = 2 ≥ "));
        Assert.That(methods[1..], Is.EqualTo(new[] { "diffusion, one sample ≥ 0.5", "Otsu threshold", "region growing (tuned on validation)" }));
        Assert.That(seg.Table.Rows, Has.Count.EqualTo(4));
        Assert.That(seg.Scores.Dice, Has.Length.EqualTo(3).And.All.InRange(0.0, 1.0));
        Assert.That(seg.Diffusion.Mask, Is.All.EqualTo(0f).Or.EqualTo(1f));
        var fixedCut = SegmentationBenchmark.Run(model, HeldOutSets.LesionPhantoms(3, S, 100), HeldOutSets.LesionPhantoms(2, S, 200), options, threshold: 0.3);
        Assert.That(fixedCut.Diffusion.Threshold, Is.EqualTo(0.3));

        var tr = TranslationBenchmark.Run(model, HeldOutSets.ContrastPairs(3, S, 100), HeldOutSets.ContrastPairs(2, S, 200), options);
        Assert.That(tr.Table.Rows.Select(r => r[0]), Is.EqualTo(new[] { "diffusion, mean of K = 2", "diffusion, one sample", "histogram matching (global)", "intensity lookup (mean B per A bin)" }));
        Assert.That(tr.Psnr, Has.Length.EqualTo(3).And.All.Not.NaN);
    }

    [Test]
    public void TheThresholdIsChosenForTheBestValidationDice()
    {
        // Soft masks that are right above 0.6 and wrong below it.
        var soft = new float[] { 0.9f, 0.7f, 0.55f, 0.2f, 0.8f, 0.65f, 0.5f, 0.1f };
        var truth = new float[] { 1, 1, 0, 0, 1, 1, 0, 0 };
        var (t, dice) = DiffusionSegmentation.ChooseThreshold(soft, truth, 2);
        Assert.That(dice, Is.EqualTo(1));
        Assert.That(t, Is.GreaterThan(0.55).And.LessThanOrEqualTo(0.65));
        Assert.That(DiffusionSegmentation.Cut(soft, t), Is.EqualTo(truth));
    }

    [Test]
    public void SegmentAndTranslateWriteTheirOutputs()
    {
        string seg = Path.Combine(_dir, "seg"), tr = Path.Combine(_dir, "tr");
        var (code, stdout, err) = CliRunner.Run("segment", "--model", _model, "--n", "2", "--validation-n", "2", "--num-samples", "2", "--steps", "2", "--output", seg);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(stdout, Does.Contain("region growing"));
        foreach (var f in new[] { "soft_mask.npy", "uncertainty.npy", "mask.npy", "metrics.md" }) Assert.That(File.Exists(Path.Combine(seg, f)), f);
        Assert.That(Runtime.IO.Npy.Read(Path.Combine(seg, "mask.npy")).Shape, Is.EqualTo(new[] { 2, 1, S, S }));

        (code, stdout, err) = CliRunner.Run("translate", "--model", _model, "--n", "2", "--validation-n", "2", "--num-samples", "2", "--steps", "2", "--output", tr);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(stdout, Does.Contain("histogram matching"));
        foreach (var f in new[] { "translated.npy", "std.npy", "sample.npy", "metrics.md" }) Assert.That(File.Exists(Path.Combine(tr, f)), f);
    }

    [Test]
    public void MedicalEvalHasSegmentAndTranslateTables()
    {
        string output = Path.Combine(_dir, "eval");
        var (code, stdout, err) = CliRunner.Run("medical-eval", "--tasks", "segment,translate", "--seg-model", _model, "--translate-model", _model, "--n", "2", "--validation-n", "2",
            "--conditional-samples", "2", "--conditional-steps", "2", "--output", output, "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("| Otsu threshold |").And.Contain("| histogram matching (global) |"));
        var md = File.ReadAllText(Path.Combine(output, "medical-eval.md"));
        Assert.That(md, Does.Contain("### Lesion segmentation (image → mask), 2 test images").And.Contain("### Contrast translation (A → B), 2 test pairs").And.Contain(_model));
        // The header names the settings of these tables, not the MRI ones.
        Assert.That(stdout, Does.Contain("K = 2 samples of 2 steps").And.Not.Contain("mask seeds").And.Not.Contain("steps per diffusion method"));
        (code, _, err) = CliRunner.Run("medical-eval", "--tasks", "segment", "--seg-model", _model, "--conditional-samples", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("--conditional-samples"));
    }

    [Test]
    public void ModelsThatDoNotFitAreRefusedByName()
    {
        var plain = TinyModel.Write(Path.Combine(_dir, "plain"));
        var (code, _, err) = CliRunner.Run("segment", "--model", plain, "--n", "1", "--output", Path.Combine(_dir, "x"));
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain(plain).And.Contain("not image-conditioned"));
        var three = TinyModel.Write(Path.Combine(_dir, "three"), configure: c => c["in_channels"] = 3);
        (code, _, err) = CliRunner.Run("translate", "--model", three, "--n", "1", "--output", Path.Combine(_dir, "y"));
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain($"--model {three}: needs one condition channel"));
        (code, _, err) = CliRunner.Run("segment", "--model", _model, "--truth", "m.npy", "--output", Path.Combine(_dir, "z"));
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain("--truth goes with --input"));
    }
}
