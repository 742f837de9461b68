using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Samplers.Sampling;

/// <summary>Where a run stands, for progress displays.</summary>
public readonly record struct RunProgress(int SamplesDone, int Samples, StepInfo Step);

/// <summary>
/// Draws any number of samples in batches of the model's batch size: sample n's starting noise (and every later
/// noise draw) is keyed by (seed, n), so the samples do not depend on the batch size or the split.
/// </summary>
public static class SampleRunner
{
    /// <summary>
    /// Runs <paramref name="solver"/> over <paramref name="sigmas"/> for <paramref name="count"/> samples and returns them
    /// [count, ..sample shape] on the host. <paramref name="init"/> optionally gives x_T as standard normal noise, or,
    /// with <paramref name="initIsImage"/>, images to start from (img2img / SDEdit: x = image + σ₀·ε, so a grid that
    /// starts below σ_max only partially re-noises them).
    /// </summary>
    public static float[] Draw(DiffusionModel model, Solver solver, double[] sigmas, int count, SamplerOptions options,
        ReadOnlySpan<float> init = default, Action<RunProgress>? progress = null, bool initIsImage = false)
    {
        if (initIsImage && init.IsEmpty) throw new ArgumentException("images to start from were asked for but not given");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"number of samples must be ≥ 1, found {count}");
        int per = model.SampleLength, batch = model.Batch;
        if (!init.IsEmpty && init.Length != (long)count * per)
            throw new ShapeMismatchException($"initial noise must hold {count} samples of {Shape.Format(model.SampleShape)} ({(long)count * per} values), found {init.Length}");
        var backend = model.Backend;
        var samples = new float[(long)count * per];
        var padded = init.IsEmpty ? null : new float[batch * per];
        using var x = backend.Allocate(new Shape([batch, .. model.SampleShape]));
        using var image = initIsImage ? backend.Allocate(x.Shape) : null;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            if (padded is not null)
            {
                Array.Clear(padded);
                init.Slice(start * per, n * per).CopyTo(padded);
                backend.CopyFromHost(padded, image ?? x);
            }
            if (image is not null)
            {
                backend.RandomNormal(x, options.Seed, start);
                backend.LinearCombination(x, [image, x], [1f, (float)sigmas[0]]);
            }
            else
            {
                if (padded is null) backend.RandomNormal(x, options.Seed, start);
                backend.Scale(x, (float)sigmas[0], x);
            }
            int done = start;
            var batchOptions = options with
            {
                FirstSampleIndex = start,
                Callback = progress is null ? options.Callback : s => { options.Callback?.Invoke(s); progress(new RunProgress(done, count, s)); },
            };
            using (var ctx = new SamplerContext(model.Denoiser, x, batchOptions)) solver.Sample(x, sigmas, ctx);
            x.ToArray().AsSpan(0, n * per).CopyTo(samples.AsSpan(start * per));
        }
        return samples;
    }

    /// <summary>
    /// Runs diffusers' <paramref name="scheduler"/> for <paramref name="steps"/> steps over the model's network, as a
    /// diffusers pipeline does, for <paramref name="count"/> samples [count, ..sample shape] on the host.
    /// <paramref name="init"/> optionally gives the unit-variance latents a pipeline would draw (they are scaled by the
    /// scheduler's init_noise_sigma, as the pipeline scales them); else sample n's latents are Philox noise keyed by
    /// (seed, n), like the explicit samplers' x_T.
    /// </summary>
    public static float[] Draw(DiffusionModel model, DiffusersScheduler scheduler, int steps, int count, SamplerOptions options,
        ReadOnlySpan<float> init = default, Action<RunProgress>? progress = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"number of samples must be ≥ 1, found {count}");
        int per = model.SampleLength, batch = model.Batch;
        if (!init.IsEmpty && init.Length != (long)count * per)
            throw new ShapeMismatchException($"initial latents must hold {count} samples of {Shape.Format(model.SampleShape)} ({(long)count * per} values), found {init.Length}");
        var backend = model.Backend;
        var samples = new float[(long)count * per];
        var padded = init.IsEmpty ? null : new float[batch * per];
        using var x = backend.Allocate(new Shape([batch, .. model.SampleShape]));
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            if (padded is null) backend.RandomNormal(x, options.Seed, start);
            else
            {
                Array.Clear(padded);
                init.Slice(start * per, n * per).CopyTo(padded);
                backend.CopyFromHost(padded, x);
            }
            int done = start;
            var batchOptions = options with
            {
                FirstSampleIndex = start,
                Callback = progress is null ? options.Callback : s => { options.Callback?.Invoke(s); progress(new RunProgress(done, count, s)); },
            };
            scheduler.Sample(model.Network, x, steps, batchOptions);
            x.ToArray().AsSpan(0, n * per).CopyTo(samples.AsSpan(start * per));
        }
        return samples;
    }
}
