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
        using var exclusive = Lease(model);
        using var session = Begin(model, solver, sigmas, count, options, init, progress, initIsImage);
        return session.Finish();
    }

    /// <summary>
    /// <see cref="Draw(DiffusionModel, Solver, double[], int, SamplerOptions, ReadOnlySpan{float}, Action{RunProgress}?, bool)"/>
    /// without running it: the caller takes the steps, batch after batch, with <see cref="SamplingSession.Step"/>, reads
    /// and edits x and x̂₀ between them, stops when it likes, and gets the samples from <see cref="SamplingSession.Finish"/>.
    /// Stepping to the end gives Draw's samples bit for bit (Draw runs this session).
    /// </summary>
    /// <exception cref="ArgumentException">A count below 1, non-finite <paramref name="init"/> values (unless <see cref="SamplerOptions.CheckFinite"/> is off), or a bad σ grid.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="init"/> does not hold <paramref name="count"/> samples.</exception>
    /// <exception cref="InsufficientMemoryException">The samples cannot fit in one array or in this machine's memory.</exception>
    /// <exception cref="ObjectDisposedException">The model has been disposed.</exception>
    public static SamplingSession Begin(DiffusionModel model, Solver solver, double[] sigmas, int count, SamplerOptions options,
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
        using var exclusive = Lease(model);
        Func<double, double> timestepOf = model.Schedule.CreateSchedule().SigmaToT;
        var image = initIsImage ? model.Backend.Allocate(new Shape([model.Batch, .. model.SampleShape])) : null;
        var grid = (double[])sigmas.Clone();
        return new SamplingSession(model, count, options, init.IsEmpty ? null : init.ToArray(), image, progress, (x, batchOptions) =>
        {
            // x = σ₀·ε from pure noise, or image + σ₀·ε (img2img / SDEdit).
            if (image is null) model.Backend.Scale(x, (float)grid[0], x);
            else model.Backend.LinearCombination(x, [image, x], [1f, (float)grid[0]]);
            return solver.Begin(x, grid, model.Denoiser, batchOptions with { TimestepOf = batchOptions.TimestepOf ?? timestepOf });
        })
        {
            // Fresh noise keyed by the sample index would be frozen into a graph: only deterministic loops replay.
            GraphBlocker = solver.Stochastic ? $"{solver.Name} draws fresh noise at every step" : null,
        };
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
        using var exclusive = Lease(model);
        using var session = Begin(model, scheduler, steps, count, options, init, progress);
        return session.Finish();
    }

    /// <summary>
    /// <see cref="Draw(DiffusionModel, DiffusersScheduler, int, int, SamplerOptions, ReadOnlySpan{float}, Action{RunProgress}?)"/>
    /// without running it, stepped by the caller as the solver overload of Begin is; stepping to the end gives Draw's samples.
    /// </summary>
    /// <exception cref="ArgumentException">A count below 1, or non-finite <paramref name="init"/> values (unless <see cref="SamplerOptions.CheckFinite"/> is off).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside the scheduler's range.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="init"/> does not hold <paramref name="count"/> samples.</exception>
    /// <exception cref="InsufficientMemoryException">The samples cannot fit in one array or in this machine's memory.</exception>
    /// <exception cref="ObjectDisposedException">The model has been disposed.</exception>
    public static SamplingSession Begin(DiffusionModel model, DiffusersScheduler scheduler, int steps, int count, SamplerOptions options,
        ReadOnlySpan<float> init = default, Action<RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(options);
        CheckRequest(model, count, options, init, "latents");
        scheduler.Start(steps); // checks the step count now rather than at the first step
        return new SamplingSession(model, count, options, init.IsEmpty ? null : init.ToArray(), image: null, progress,
            (x, batchOptions) => scheduler.Begin(model.Network, x, steps, batchOptions))
        {
            GraphBlocker = "a diffusers scheduler's loop allocates its own tensors, which a replayed graph would not keep",
        };
    }

    private static IDisposable Lease(DiffusionModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Exclusive();
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
}
