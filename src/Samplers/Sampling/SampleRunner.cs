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
/// <remarks>
/// Thread safety: <c>Draw</c> (either overload) may be called from any number of threads, on one model or several. All state of a
/// run is its own (its sample buffers and solver context); the model's network is shared, so each run holds the model
/// exclusively (<see cref="DiffusionModel.Exclusive"/>) and runs on one model are serialized. Every run returns exactly
/// the samples it returns when alone.
/// </remarks>
public static class SampleRunner
{
    /// <summary>
    /// Runs <paramref name="solver"/> over <paramref name="sigmas"/> for <paramref name="count"/> samples and returns them
    /// [count, ..sample shape] on the host. <paramref name="init"/> optionally gives x_T as standard normal noise, or,
    /// with <paramref name="initIsImage"/>, images to start from (img2img / SDEdit: x = image + σ₀·ε, so a grid that
    /// starts below σ_max only partially re-noises them). When a step callback (<see cref="SamplerOptions.OnStep"/>) stops
    /// the run, the array holds the samples of the batches run so far, the last one as the stop left it.
    /// </summary>
    /// <exception cref="ArgumentException">A count below 1, non-finite <paramref name="init"/> values (unless <see cref="SamplerOptions.CheckFinite"/> is off), or a bad σ grid.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="init"/> does not hold <paramref name="count"/> samples.</exception>
    /// <exception cref="InsufficientMemoryException">The samples cannot fit in one array or in this machine's memory.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with <see cref="SamplerOptions.CheckFinite"/>).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The model has been disposed.</exception>
    public static float[] Draw(DiffusionModel model, Solver solver, double[] sigmas, int count, SamplerOptions options,
        ReadOnlySpan<float> init = default, Action<RunProgress>? progress = null, bool initIsImage = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(solver);
        ArgumentNullException.ThrowIfNull(sigmas);
        ArgumentNullException.ThrowIfNull(options);
        if (initIsImage && init.IsEmpty) throw new ArgumentException("images to start from were asked for but not given");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"number of samples must be ≥ 1, found {count}");
        if (sigmas.Length < 2 || sigmas.Any(s => !double.IsFinite(s) || s < 0))
            throw new ArgumentException($"the σ grid must hold at least 2 finite, non-negative values, found [{string.Join(", ", sigmas.Take(8))}{(sigmas.Length > 8 ? ", …" : "")}]", nameof(sigmas));
        CheckRequest(model, count, options, init, initIsImage ? "images" : "noise");
        using var exclusive = model.Exclusive();
        Func<double, double>? timestepOf = options.OnStep is null ? null : model.Schedule.CreateSchedule().SigmaToT;
        var image = initIsImage ? model.Backend.Allocate(new Shape([model.Batch, .. model.SampleShape])) : null;
        try
        {
            return RunBatches(model, count, options, init, image, progress, (x, batchOptions) =>
            {
                // x = σ₀·ε from pure noise, or image + σ₀·ε (img2img / SDEdit).
                if (image is null) model.Backend.Scale(x, (float)sigmas[0], x);
                else model.Backend.LinearCombination(x, [image, x], [1f, (float)sigmas[0]]);
                using var ctx = new SamplerContext(model.Denoiser, x, batchOptions with { TimestepOf = batchOptions.TimestepOf ?? timestepOf });
                solver.Sample(x, sigmas, ctx);
            });
        }
        finally
        {
            image?.Dispose();
        }
    }

    /// <summary>
    /// Runs diffusers' <paramref name="scheduler"/> for <paramref name="steps"/> steps over the model's network, as a
    /// diffusers pipeline does, for <paramref name="count"/> samples [count, ..sample shape] on the host.
    /// <paramref name="init"/> optionally gives the unit-variance latents a pipeline would draw (they are scaled by the
    /// scheduler's init_noise_sigma, as the pipeline scales them); else sample n's latents are Philox noise keyed by
    /// (seed, n), like the explicit samplers' x_T. A stop from a step callback ends the run as in the solver overload.
    /// </summary>
    /// <exception cref="ArgumentException">A count below 1, or non-finite <paramref name="init"/> values (unless <see cref="SamplerOptions.CheckFinite"/> is off).</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="init"/> does not hold <paramref name="count"/> samples.</exception>
    /// <exception cref="InsufficientMemoryException">The samples cannot fit in one array or in this machine's memory.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with <see cref="SamplerOptions.CheckFinite"/>).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The model has been disposed.</exception>
    public static float[] Draw(DiffusionModel model, DiffusersScheduler scheduler, int steps, int count, SamplerOptions options,
        ReadOnlySpan<float> init = default, Action<RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(options);
        CheckRequest(model, count, options, init, "latents");
        using var exclusive = model.Exclusive();
        return RunBatches(model, count, options, init, image: null, progress, (x, batchOptions) => scheduler.Sample(model.Network, x, steps, batchOptions));
    }

    /// <summary>Checks the sample count, the memory the samples need, and the initial values.</summary>
    private static void CheckRequest(DiffusionModel model, int count, SamplerOptions options, ReadOnlySpan<float> init, string what)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"number of samples must be ≥ 1, found {count}");
        int per = model.SampleLength;
        int total = MemoryBudget.HostArray($"{count} samples of {Shape.Format(model.SampleShape)}", MemoryBudget.Elements("samples", count, per));
        if (!init.IsEmpty && init.Length != total)
            throw new ShapeMismatchException($"initial {what} must hold {count} samples of {Shape.Format(model.SampleShape)} ({total} values), found {init.Length}");
        if (!init.IsEmpty && options.CheckFinite) RequireFinite(init, per, $"initial {what}");
    }

    private static void RequireFinite(ReadOnlySpan<float> values, int per, string what)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"the {what} hold a non-finite value ({values[i]}) in sample {i / per}, element {i % per}");
    }

    /// <summary>
    /// The batch loop both paths share: each batch's x starts as unit-variance latents (the caller's <paramref name="init"/>,
    /// or Philox noise keyed by (seed, sample index)); with <paramref name="image"/>, <paramref name="init"/> holds images,
    /// which go there, and x gets the noise. <paramref name="runBatch"/> turns x into the batch's samples.
    /// </summary>
    private static float[] RunBatches(DiffusionModel model, int count, SamplerOptions options, ReadOnlySpan<float> init, Tensor? image,
        Action<RunProgress>? progress, Action<Tensor, SamplerOptions> runBatch)
    {
        int per = model.SampleLength, batch = model.Batch;
        var backend = model.Backend;
        var samples = new float[(long)count * per];
        var padded = init.IsEmpty ? null : new float[batch * per];
        using var x = backend.Allocate(new Shape([batch, .. model.SampleShape]));
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            if (padded is not null)
            {
                Array.Clear(padded);
                init.Slice(start * per, n * per).CopyTo(padded);
                backend.CopyFromHost(padded, image ?? x);
            }
            if (padded is null || image is not null) backend.RandomNormal(x, options.Seed, options.FirstSampleIndex + start);
            int done = start;
            var batchOptions = options with
            {
                FirstSampleIndex = options.FirstSampleIndex + start,
                Callback = progress is null ? options.Callback : s => { options.Callback?.Invoke(s); progress(new RunProgress(done, count, s)); },
            };
            bool stopped = false;
            try
            {
                runBatch(x, batchOptions);
            }
            catch (SamplingStoppedException)
            {
                stopped = true;
            }
            x.ToArray().AsSpan(0, n * per).CopyTo(samples.AsSpan(start * per));
            // A step callback's stop: the samples so far, this batch as the stop left it.
            if (stopped) return samples[..((start + n) * per)];
        }
        return samples;
    }
}
