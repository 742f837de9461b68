using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>What <see cref="Reconstruction.Run"/> returns. Images are [N, C, H, W] in image units ([0, 1] scale, not clamped).</summary>
/// <param name="Estimate">The reconstruction: the posterior sample, or the mean of the K samples.</param>
/// <param name="Std">Per-pixel std over the K posterior samples (K ≥ 2), else null.</param>
/// <param name="Samples">The K posterior samples.</param>
/// <param name="Naive">The naive answer (zero-filled, masked, bicubic, Gaussian filter).</param>
/// <param name="NaiveName">What the naive answer is.</param>
/// <param name="Measurement">The simulated measurement (model units) and its shape.</param>
/// <param name="MeasurementShape">The shape of <paramref name="Measurement"/>.</param>
/// <param name="Mask">The k-space or known-pixel mask, if the task has one, and its shape.</param>
/// <param name="MaskShape">The shape of <paramref name="Mask"/>.</param>
/// <param name="MethodName">The method that ran.</param>
/// <param name="EvaluationsPerImage">Denoiser evaluations per image and posterior sample.</param>
/// <param name="Residual">‖A·x̂ − y‖/‖y‖ of <paramref name="Estimate"/> per image (model units).</param>
/// <param name="EffectiveAcceleration">MRI: H / sampled rows of the mask; otherwise null.</param>
public sealed record ReconstructionResult(float[] Estimate, float[]? Std, float[][] Samples, float[] Naive, string NaiveName, float[] Measurement, int[] MeasurementShape,
    float[]? Mask, int[]? MaskShape, string MethodName, int EvaluationsPerImage, double[] Residual, double? EffectiveAcceleration);

/// <summary>
/// The reconstruction flow of <c>dk reconstruct</c> as a library call: from clean images [N, C, H, W] in [0, 1] it
/// simulates the measurement of a <see cref="ReconstructionRequest"/> (MRI k-space under an exact-acceleration mask,
/// known pixels, a box downsample, or noise), runs the diffusion-prior method K times, and returns the estimate
/// (mean of K, with a per-pixel std when K ≥ 2), the naive baseline, the measurement and its residual.
/// </summary>
public static class Reconstruction
{
    /// <summary>First phantom index of the validation phantoms used to tune the denoising baseline (never a test index).</summary>
    public const long ValidationFirstIndex = 3_000_000_000;

    /// <summary>Runs <paramref name="request"/> on <paramref name="count"/> images with <paramref name="model"/> as the prior.</summary>
    /// <remarks>Holds <see cref="DiffusionModel.Exclusive"/> for the whole run, so threads sharing a model are serialized.</remarks>
    public static ReconstructionResult Run(DiffusionModel model, ReadOnlySpan<float> images, int count, ReconstructionRequest request, Action<int, RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        var q = request.Validate();
        int c = model.SampleShape[0], h = model.SampleShape[1], w = model.SampleShape[2];
        if (count < 1 || images.Length != (long)count * c * h * w)
            throw new ShapeMismatchException($"reconstruction: {count} images of [{c}, {h}, {w}] need {(long)count * c * h * w} values, found {images.Length}");
        if (q.Task == InverseTask.SuperResolution && (h % q.Factor != 0 || w % q.Factor != 0))
            throw new ArgumentException($"reconstruction: the super-resolution factor {q.Factor} must divide the image size {h}×{w}");
        // One lock for the whole run (the prior's calls re-enter it): the NFE count reads the shared denoiser's counter.
        using var exclusive = model.Exclusive();
        var backend = model.Backend;
        var solver = q.Solver ?? SamplerRegistry.Get("ddpm");
        var method = q.ResolvedMethod;
        var shape = new Shape(count, c, h, w);
        var x0 = Measurements.ToModel(images);
        double sigmaY = 2 * q.ResolvedNoiseSigma; // model units span 2 for 1 in image units
        var sigmas = model.Sigmas("karras", q.Steps);
        var options = new SamplerOptions { Seed = q.Seed, Cancellation = q.Cancellation, CheckFinite = q.CheckFinite };
        int batches = (count + model.Batch - 1) / model.Batch;

        float[]? mask = null;
        int[]? maskShape = null;
        double? acceleration = null;
        float[] naive, measurement;
        int[] measurementShape;
        string naiveName;
        Func<SamplerOptions, Action<RunProgress>?, float[]> once;
        ILinearOperator op;
        switch (q.Task)
        {
            case InverseTask.Mri:
            {
                mask = q.KspaceMask ?? MriMasks.Create(q.MaskType, h, w, q.Acceleration, q.MaskSeed ?? q.Seed, q.CenterFraction);
                if (mask.Length != h * w) throw new ShapeMismatchException($"reconstruction: the k-space mask holds {mask.Length} values, the images need [{h}, {w}]");
                maskShape = [h, w];
                acceleration = MriMasks.EffectiveAcceleration(mask, h, w).Acceleration;
                var mri = new CartesianMri(backend, mask, new Shape(h, w));
                op = mri;
                (measurement, measurementShape) = Measurements.Simulate(backend, op, x0, shape, sigmaY, q.Seed, mri.Mask);
                naive = Measurements.FromModel(Measurements.Adjoint(backend, op, measurement, shape));
                naiveName = "zero-filled";
                break;
            }
            case InverseTask.SuperResolution:
            {
                op = new BoxDownsample(backend, q.Factor);
                (measurement, measurementShape) = Measurements.Simulate(backend, op, x0, shape, sigmaY, q.Seed);
                naive = Measurements.FromModel(Bicubic.Upsample(measurement, count * c, h / q.Factor, w / q.Factor, q.Factor));
                naiveName = "bicubic";
                break;
            }
            case InverseTask.Inpaint:
            {
                mask = q.KnownMask ?? Measurements.CentredBoxMask(count, h, w, q.BoxArea);
                if (mask.Length != (long)count * h * w) throw new ShapeMismatchException($"reconstruction: the known-pixel masks hold {mask.Length} values, {count} images need [{count}, 1, {h}, {w}]");
                maskShape = [count, 1, h, w];
                var masked = new MaskOperator(backend, mask, new Shape(count, 1, h, w));
                op = masked;
                (measurement, measurementShape) = Measurements.Simulate(backend, op, x0, shape, sigmaY, q.Seed, masked.Mask);
                naive = Measurements.FromModel(measurement);
                naiveName = "masked";
                break;
            }
            default:
            {
                op = new IdentityOperator(backend);
                (measurement, measurementShape) = Measurements.Simulate(backend, op, x0, shape, sigmaY, q.Seed);
                var noisy = Measurements.FromModel(measurement);
                double width = TunedGaussianWidth(h, w, q.ResolvedNoiseSigma, q.Seed);
                naive = GaussianFilter.Apply(noisy, count * c, h, w, width);
                naiveName = $"Gaussian filter σ={width:G3}px (tuned on validation phantoms)";
                break;
            }
        }
        using var disposeOp = op;
        var meas = measurement;
        once = (method, q.Task) switch
        {
            (ReconstructionMethod.RePaint, _) => (o, p) => DiffusionPrior.Inpaint(model, meas, mask!, count, new RePaint(q.JumpLength, q.JumpCount), sigmas, o, p),
            (ReconstructionMethod.SdEdit, _) => (o, p) => DiffusionPrior.Denoise(model, meas, count, sigmaY, q.Steps, solver, o, p),
            (_, InverseTask.Inpaint) => (o, p) => PerImageMasks(model, mask!, meas, count, sigmaY, Sampler(method, q, solver), sigmas, o, p),
            _ => (o, p) => DiffusionPrior.Reconstruct(model, op, meas, count, sigmaY, Sampler(method, q, solver), sigmas, o, p),
        };

        var samples = new float[q.PosteriorSamples][];
        int before = model.Denoiser.Evaluations;
        for (int k = 0; k < samples.Length; k++)
        {
            int sample = k;
            samples[k] = once(options with { Seed = DiffusionPrior.PosteriorSeed(q.Seed, k) }, progress is null ? null : p => progress(sample, p));
        }
        int nfe = (model.Denoiser.Evaluations - before) / (batches * samples.Length);
        float[] estimateModel;
        float[]? std = null;
        if (samples.Length == 1) estimateModel = samples[0];
        else
        {
            var stats = PosteriorStatistics.Compute(samples);
            estimateModel = stats.Mean;
            std = stats.Std.Select(s => s / 2).ToArray(); // model units → image units
        }
        var residual = Measurements.RelativeResidual(backend, op, estimateModel, measurement, shape);
        var name = method switch
        {
            ReconstructionMethod.RePaint => $"RePaint (j={q.JumpLength}, r={q.JumpCount})",
            ReconstructionMethod.SdEdit => $"SDEdit ({solver.Name})",
            _ => Sampler(method, q, solver).Name,
        };
        return new ReconstructionResult(Measurements.FromModel(estimateModel), std, samples.Select(s => Measurements.FromModel(s)).ToArray(), naive, naiveName,
            measurement, measurementShape, mask, maskShape, name, nfe, residual, acceleration);
    }

    /// <summary>The posterior sampler of a DDNM-family method.</summary>
    public static IPosteriorSampler Sampler(ReconstructionMethod method, ReconstructionRequest q, Solver solver)
    {
        ArgumentNullException.ThrowIfNull(q);
        return method switch
        {
            ReconstructionMethod.Ddnm or ReconstructionMethod.Auto => new DdnmSampler(solver),
            ReconstructionMethod.TimeTravel => new TimeTravelSampler(new TimeTravel(q.JumpLength, q.JumpCount)),
            ReconstructionMethod.PredictorCorrector => new PredictorCorrectorSampler(new ScoreMriPc(q.Snr, q.CorrectorSteps)),
            _ => throw new ArgumentException($"reconstruction: {method} is not a data-consistency sampler"),
        };
    }

    /// <summary>
    /// The Gaussian filter width (pixels) with the best mean PSNR on 16 validation phantoms (indices from
    /// <see cref="ValidationFirstIndex"/>) at noise <paramref name="noiseSigma"/> (image units): the denoising baseline as
    /// its best user would set it, never tuned on the images it is then applied to.
    /// </summary>
    public static double TunedGaussianWidth(int height, int width, double noiseSigma, ulong seed, int validationImages = 16)
    {
        // Phantoms are square: render the larger side and crop.
        var (clean, _) = HeadPhantom.GenerateBatch(validationImages, Math.Max(height, width), 0, (LesionSpec?)null, ValidationFirstIndex);
        int size = Math.Max(height, width), plane = height * width;
        var images = new float[validationImages * plane];
        for (int k = 0; k < validationImages; k++)
            for (int r = 0; r < height; r++)
                clean.AsSpan(k * size * size + r * size, width).CopyTo(images.AsSpan(k * plane + r * width, width));
        var rng = new SplitMix64(seed ^ 0x56414C49444E4F49UL);
        var noisy = images.Select(v => (float)(v + noiseSigma * Gaussian(ref rng))).ToArray();
        double Score(double s)
        {
            var f = GaussianFilter.Apply(noisy, validationImages, height, width, s);
            double total = 0;
            for (int k = 0; k < validationImages; k++) total += Psnr.Compute(images.AsSpan(k * plane, plane), f.AsSpan(k * plane, plane), 1.0);
            return total / validationImages;
        }
        return ParameterSearch.Maximize(Score, ParameterSearch.LogGrid(0.25, 4, 9)).Best;
    }

    private static double Gaussian(ref SplitMix64 rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>DDNM-family inpainting with one mask per image: one operator per batch of the model.</summary>
    private static float[] PerImageMasks(DiffusionModel model, float[] masks, float[] measurement, int count, double sigmaY, IPosteriorSampler sampler, double[] sigmas,
        SamplerOptions options, Action<RunProgress>? progress)
    {
        int c = model.SampleShape[0], h = model.SampleShape[1], w = model.SampleShape[2], per = c * h * w, plane = h * w;
        var result = new float[measurement.Length];
        for (int s = 0; s < count; s += model.Batch)
        {
            int n = Math.Min(model.Batch, count - s), done = s;
            var bm = new float[model.Batch * plane];
            masks.AsSpan(s * plane, n * plane).CopyTo(bm);
            using var bop = new MaskOperator(model.Backend, bm, new Shape(model.Batch, 1, h, w));
            // Each chunk starts its noise at sample index 0, so the chunk's first index is folded into the seed.
            var part = DiffusionPrior.Reconstruct(model, bop, measurement.AsSpan(s * per, n * per), n, sigmaY, sampler, sigmas,
                options with { Seed = options.Seed + (ulong)s * 0xD1B54A32D192ED03UL }, progress is null ? null : p => progress(new RunProgress(done + p.SamplesDone, count, p.Step)));
            part.CopyTo(result, s * per);
        }
        return result;
    }
}
