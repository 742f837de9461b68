using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// Runs the diffusion-prior solvers over any number of images in batches of the model's batch size (the last batch
/// padded with zeros). Host arrays are [N, ...] in model units; noise is keyed by (seed, image index), so image n's
/// result does not depend on the batch split.
/// </summary>
/// <remarks>
/// Thread safety: every call holds <see cref="DiffusionModel.Exclusive"/> for its whole run (it uses the model's denoiser
/// directly), so threads sharing one model are serialized, each getting exactly the result of a lone call.
/// </remarks>
public static class DiffusionPrior
{
    /// <summary>
    /// Reconstruction with <see cref="DataConsistencyDenoiser"/> and <paramref name="solver"/> (DDNM): <paramref name="measurements"/>
    /// holds N measurements of <paramref name="op"/>'s measurement shape; x starts at σ₀·noise; the output is made
    /// data-consistent at the end (<see cref="DataConsistencyDenoiser.Finalize"/>).
    /// </summary>
    public static float[] Reconstruct(DiffusionModel model, ILinearOperator op, ReadOnlySpan<float> measurements, int count, double measurementSigma,
        Solver solver, double[] sigmas, SamplerOptions options, Action<RunProgress>? progress = null) =>
        Reconstruct(model, op, measurements, count, measurementSigma, new DdnmSampler(solver), sigmas, options, progress);

    /// <summary>
    /// Reconstruction with any <see cref="IPosteriorSampler"/> (DDNM, time travel, predictor–corrector): one posterior
    /// sample per image, model units, [N, ...].
    /// </summary>
    public static float[] Reconstruct(DiffusionModel model, ILinearOperator op, ReadOnlySpan<float> measurements, int count, double measurementSigma,
        IPosteriorSampler sampler, double[] sigmas, SamplerOptions options, Action<RunProgress>? progress = null) =>
        Reconstruct(model, op, measurements, count, measurementSigma, sampler, sigmas, options, progress, null);

    /// <summary>
    /// As above, but x starts at <paramref name="start"/> + σ₀·noise when <paramref name="start"/> (N images, model
    /// units) is given: with the true images this is an oracle start, which separates what the prior does from how
    /// the sampler gets there.
    /// </summary>
    public static float[] Reconstruct(DiffusionModel model, ILinearOperator op, ReadOnlySpan<float> measurements, int count, double measurementSigma,
        IPosteriorSampler sampler, double[] sigmas, SamplerOptions options, Action<RunProgress>? progress, float[]? start)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentNullException.ThrowIfNull(sigmas);
        using var exclusive = model.Exclusive();
        var b = model.Backend;
        var mShape = op.MeasurementShape(new Shape([model.Batch, .. model.SampleShape]));
        int per = checked((int)(mShape.Length / model.Batch));
        if (measurements.Length != (long)count * per)
            throw new ShapeMismatchException($"reconstruction: {count} measurements of {Shape.Format(mShape.ToArray()[1..])} need {(long)count * per} values, found {measurements.Length}");
        using var y = b.Allocate(mShape);
        var host = new float[mShape.Length];
        var meas = measurements.ToArray();
        int imagePer = model.SampleLength;
        if (start is not null && start.Length != (long)count * imagePer)
            throw new ShapeMismatchException($"reconstruction: the start holds {start.Length} values, {count} images need {(long)count * imagePer}");
        using var dc = new DataConsistencyDenoiser(model.Denoiser, op, y, measurementSigma);
        using var init = start is null ? null : b.Allocate(new Shape([model.Batch, .. model.SampleShape]));
        var initHost = start is null ? null : new float[model.Batch * imagePer];
        return Batches(model, count, options, progress, (first, n, x, o) =>
        {
            Array.Clear(host);
            meas.AsSpan(first * per, n * per).CopyTo(host);
            b.CopyFromHost(host, y);
            b.RandomNormal(x, o.Seed, first);
            b.Scale(x, (float)sigmas[0], x);
            if (start is not null)
            {
                Array.Clear(initHost!);
                start.AsSpan(first * imagePer, n * imagePer).CopyTo(initHost);
                b.CopyFromHost(initHost, init!);
                b.LinearCombination(x, [x, init!], [1f, 1f]);
            }
            using var ctx = new SamplerContext(dc, x, o);
            sampler.Sample(x, dc, sigmas, ctx);
        });
    }

    /// <summary>
    /// <paramref name="samples"/> posterior samples per image (sample k uses seed <see cref="PosteriorSeed"/>(seed, k);
    /// sample 0 is what <see cref="Reconstruct(DiffusionModel, ILinearOperator, ReadOnlySpan{float}, int, double, IPosteriorSampler, double[], SamplerOptions, Action{RunProgress}?)"/> returns).
    /// </summary>
    public static float[][] PosteriorSamples(DiffusionModel model, ILinearOperator op, ReadOnlySpan<float> measurements, int count, double measurementSigma,
        IPosteriorSampler sampler, double[] sigmas, SamplerOptions options, int samples, Action<int, RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), $"posterior samples must be ≥ 1, found {samples}");
        var result = new float[samples][];
        for (int k = 0; k < samples; k++)
        {
            int sample = k;
            result[k] = Reconstruct(model, op, measurements, count, measurementSigma, sampler, sigmas, options with { Seed = PosteriorSeed(options.Seed, k) },
                progress is null ? null : p => progress(sample, p));
        }
        return result;
    }

    /// <summary>The noise seed of posterior sample <paramref name="k"/> (k = 0: the seed itself).</summary>
    public static ulong PosteriorSeed(ulong seed, int k) => k == 0 ? seed : seed + (ulong)k * 0x9E3779B97F4A7C15UL;

    /// <summary>RePaint inpainting of <paramref name="known"/> [N, C, H, W] where <paramref name="masks"/> [N, 1, H, W] is 1.</summary>
    public static float[] Inpaint(DiffusionModel model, ReadOnlySpan<float> known, ReadOnlySpan<float> masks, int count, RePaint repaint, double[] sigmas,
        SamplerOptions options, Action<RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(repaint);
        int per = model.SampleLength, plane = model.SampleShape[^1] * model.SampleShape[^2];
        if (known.Length != (long)count * per) throw new ShapeMismatchException($"inpainting: {count} images of {Shape.Format(model.SampleShape)} need {(long)count * per} values, found {known.Length}");
        if (masks.Length != (long)count * plane) throw new ShapeMismatchException($"inpainting: {count} masks of [1, {model.SampleShape[^2]}, {model.SampleShape[^1]}] need {(long)count * plane} values, found {masks.Length}");
        OperatorChecks.Binary("inpainting", nameof(masks), masks);
        using var exclusive = model.Exclusive();
        var b = model.Backend;
        using var y = b.Allocate(new Shape([model.Batch, .. model.SampleShape]));
        using var m = b.Allocate(model.Batch, 1, model.SampleShape[^2], model.SampleShape[^1]);
        var (k, mk) = (known.ToArray(), masks.ToArray());
        var (yHost, mHost) = (new float[y.Shape.Length], new float[m.Shape.Length]);
        return Batches(model, count, options, progress, (start, n, x, o) =>
        {
            Array.Clear(yHost);
            Array.Clear(mHost);
            k.AsSpan(start * per, n * per).CopyTo(yHost);
            mk.AsSpan(start * plane, n * plane).CopyTo(mHost);
            b.CopyFromHost(yHost, y);
            b.CopyFromHost(mHost, m);
            b.RandomNormal(x, o.Seed, start);
            b.Scale(x, (float)sigmas[0], x);
            using var ctx = new SamplerContext(model.Denoiser, x, o);
            repaint.Sample(x, y, m, sigmas, ctx);
        });
    }

    /// <summary>SDEdit denoising of <paramref name="noisy"/> [N, ...] with Gaussian noise of std <paramref name="measurementSigma"/> (model units).</summary>
    public static float[] Denoise(DiffusionModel model, ReadOnlySpan<float> noisy, int count, double measurementSigma, int steps, Solver solver,
        SamplerOptions options, Action<RunProgress>? progress = null) =>
        FromImages(model, noisy, count, options, progress, "SDEdit", (x, ctx) => SdEdit.Denoise(x, measurementSigma, steps, solver, ctx));

    /// <summary>AnoDDPM reconstructions x̂ of <paramref name="images"/> [N, ...] noised to <paramref name="sigma"/>.</summary>
    public static float[] AnomalyReconstruct(DiffusionModel model, ReadOnlySpan<float> images, int count, double sigma, int steps, Solver solver,
        SamplerOptions options, Action<RunProgress>? progress = null) =>
        FromImages(model, images, count, options, progress, "anomaly detection", (x, ctx) => AnomalyDetector.Reconstruct(x, sigma, steps, solver, ctx));

    private static float[] FromImages(DiffusionModel model, ReadOnlySpan<float> images, int count, SamplerOptions options, Action<RunProgress>? progress,
        string what, Action<Tensor, SamplerContext> run)
    {
        ArgumentNullException.ThrowIfNull(model);
        int per = model.SampleLength;
        if (images.Length != (long)count * per) throw new ShapeMismatchException($"{what}: {count} images of {Shape.Format(model.SampleShape)} need {(long)count * per} values, found {images.Length}");
        var all = images.ToArray();
        var host = new float[model.Batch * per];
        using var exclusive = model.Exclusive();
        return Batches(model, count, options, progress, (start, n, x, o) =>
        {
            Array.Clear(host);
            all.AsSpan(start * per, n * per).CopyTo(host);
            model.Backend.CopyFromHost(host, x);
            using var ctx = new SamplerContext(model.Denoiser, x, o);
            run(x, ctx);
        });
    }

    private static float[] Batches(DiffusionModel model, int count, SamplerOptions options, Action<RunProgress>? progress, Action<int, int, Tensor, SamplerOptions> run)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"number of images must be ≥ 1, found {count}");
        ArgumentNullException.ThrowIfNull(options);
        int per = model.SampleLength, batch = model.Batch;
        var result = new float[(long)count * per];
        using var x = model.Backend.Allocate(new Shape([batch, .. model.SampleShape]));
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start), done = start;
            var o = options with
            {
                FirstSampleIndex = start,
                Callback = progress is null ? options.Callback : s => { options.Callback?.Invoke(s); progress(new RunProgress(done, count, s)); },
            };
            run(start, n, x, o);
            x.ToArray().AsSpan(0, n * per).CopyTo(result.AsSpan(start * per));
        }
        return result;
    }
}
