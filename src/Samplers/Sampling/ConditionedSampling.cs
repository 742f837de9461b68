using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Samplers.Sampling;

/// <summary>
/// Sampling an image-conditioned model (<see cref="DiffusionModel.ConditionShape"/>): every condition image gets
/// <c>perCondition</c> samples (an ensemble), condition-major, so sample s of the run belongs to condition
/// s / perCondition. The run goes in batches of the model's batch size; before each, the batch's conditions are set on
/// the device. Sample s's noise is keyed by (seed, first index + s) as in <see cref="SampleRunner"/>, so the samples do
/// not depend on the batch size.
/// </summary>
/// <remarks>Thread safety: each run holds the model's <see cref="DiffusionModel.Exclusive"/> throughout.</remarks>
public static class ConditionedSampling
{
    /// <summary>How many conditions <paramref name="conditions"/> holds for <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">The model is not image-conditioned.</exception>
    /// <exception cref="ShapeMismatchException">The values are empty or not a whole number of conditions.</exception>
    public static int Count(DiffusionModel model, ReadOnlySpan<float> conditions)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = model.ConditionShape ?? throw new ArgumentException($"{model.Source}: the model is not image-conditioned; it takes no condition");
        int per = model.ConditionLength;
        if (conditions.IsEmpty || conditions.Length % per != 0)
            throw new ShapeMismatchException($"the condition must hold whole images of {Shape.Format(shape)} ({per} values each), found {conditions.Length} values");
        return conditions.Length / per;
    }

    /// <summary>
    /// Runs <paramref name="drawChunk"/>(start, n) for each batch of the run's samples [start, start + n) after setting their
    /// conditions, and joins what it returns ([n, ..sample shape] flattened; fewer samples end the run, as a step
    /// callback's stop does).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perCondition"/> is below 1.</exception>
    /// <inheritdoc cref="Count" path="/exception"/>
    public static float[] Draw(DiffusionModel model, ReadOnlySpan<float> conditions, int perCondition, Func<int, int, float[]> drawChunk)
    {
        ArgumentNullException.ThrowIfNull(drawChunk);
        int count = Count(model, conditions);
        if (perCondition < 1) throw new ArgumentOutOfRangeException(nameof(perCondition), $"samples per condition must be ≥ 1, found {perCondition}");
        int per = model.ConditionLength, length = model.SampleLength, batch = model.Batch;
        int total = MemoryBudget.HostArray($"{count} × {perCondition} samples of {Shape.Format(model.SampleShape)}", MemoryBudget.Elements("samples", (long)count * perCondition, length)) / length;
        var samples = new float[(long)total * length];
        var chunkConditions = new float[(long)batch * per];
        using var exclusive = model.Exclusive();
        for (int start = 0; start < total; start += batch)
        {
            int n = Math.Min(batch, total - start);
            SetBatch(model, conditions, perCondition, start, n, chunkConditions);
            var chunk = drawChunk(start, n);
            chunk.CopyTo(samples.AsSpan(start * length));
            if (chunk.Length < n * length) return samples[..(start * length + chunk.Length)];
        }
        return samples;
    }

    /// <summary>
    /// Sets the conditions of the run's samples [start, start + n) on <paramref name="model"/> (sample s belongs to
    /// condition s / perCondition), gathered in <paramref name="scratch"/> (at least n conditions long).
    /// </summary>
    internal static void SetBatch(DiffusionModel model, ReadOnlySpan<float> conditions, int perCondition, int start, int n, float[] scratch)
    {
        int per = model.ConditionLength;
        for (int j = 0; j < n; j++) conditions.Slice((start + j) / perCondition * per, per).CopyTo(scratch.AsSpan(j * per));
        model.SetCondition(scratch.AsSpan(0, n * per));
    }

    /// <summary>
    /// <paramref name="perCondition"/> samples per condition with <paramref name="solver"/> over <paramref name="sigmas"/>,
    /// [conditions × perCondition, ..sample shape] on the host; <paramref name="progress"/> counts samples over the whole run.
    /// </summary>
    /// <inheritdoc cref="Count" path="/exception"/>
    public static float[] Draw(DiffusionModel model, Solver solver, double[] sigmas, ReadOnlySpan<float> conditions, int perCondition, SamplerOptions options,
        Action<RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        int total = Count(model, conditions) * perCondition;
        return Draw(model, conditions, perCondition, (start, n) => SampleRunner.Draw(model, solver, sigmas, n,
            options with { FirstSampleIndex = options.FirstSampleIndex + start }, default,
            progress is null ? null : p => progress(p with { SamplesDone = start + p.SamplesDone, Samples = total })));
    }
}
