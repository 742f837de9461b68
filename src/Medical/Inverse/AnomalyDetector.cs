using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// AnoDDPM-style anomaly detection (Wyatt et al. 2022) with Gaussian noise: an image is noised to training step t
/// (x_t = x + σ(t)·z in σ-space, σ(t) from the model's discrete schedule), denoised back to σ = 0 by a solver over a
/// Karras grid from σ(t), and the anomaly map is |x − x̂| averaged over channels and smoothed by a Gaussian filter.
/// A model trained on healthy images cannot reproduce what it never saw, so lesions light up. (Simplex noise, which
/// the paper prefers for large lesions, is not implemented.)
/// </summary>
public static class AnomalyDetector
{
    /// <summary>σ of training step <paramref name="t"/> of <paramref name="schedule"/>.</summary>
    public static double SigmaAt(DiscreteSchedule schedule, int t)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (t < 1 || t >= schedule.TrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(t), $"anomaly detection: t must be in [1, {schedule.TrainTimesteps - 1}], found {t}");
        return schedule.Sigmas[t];
    }

    /// <summary>
    /// Noises <paramref name="x"/> (model units, a batch) to <paramref name="sigma"/> with the context's noise, then runs
    /// <paramref name="solver"/> for <paramref name="steps"/> steps down to 0; x leaves as the reconstruction x̂.
    /// </summary>
    public static void Reconstruct(Tensor x, double sigma, int steps, Solver solver, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(solver);
        ArgumentNullException.ThrowIfNull(ctx);
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), $"anomaly detection: σ must be > 0, found {sigma}");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"anomaly detection: steps must be ≥ 1, found {steps}");
        var noise = ctx.Like();
        // Step index −1 keys a noise stream the solver's own steps (0, 1, …) never use.
        ctx.Noise(noise, -1);
        ctx.Backend.LinearCombination(x, [x, noise], [1f, (float)sigma]);
        double top = Math.Min(sigma, ctx.Denoiser.SigmaMax);
        solver.Sample(x, top <= ctx.Denoiser.SigmaMin ? [top, 0] : SigmaGrids.Karras(steps, ctx.Denoiser.SigmaMin, top), ctx);
    }

    /// <summary>
    /// The anomaly map [N, H, W] of images and reconstructions [N, C, H, W] (host, any units): the channel mean of
    /// |x − x̂|, smoothed by a Gaussian of std <paramref name="smoothing"/> pixels (0: none).
    /// </summary>
    public static float[] Map(ReadOnlySpan<float> images, ReadOnlySpan<float> reconstructions, int n, int channels, int height, int width, double smoothing = 1.0)
    {
        long plane = (long)height * width;
        if (images.Length != n * channels * plane || reconstructions.Length != images.Length)
            throw new ShapeMismatchException($"anomaly map: images ({images.Length} values) and reconstructions ({reconstructions.Length}) must both hold [{n}, {channels}, {height}, {width}]");
        var map = new float[n * plane];
        for (int k = 0; k < n; k++)
            for (int c = 0; c < channels; c++)
                for (long p = 0; p < plane; p++)
                {
                    long i = (k * channels + c) * plane + p;
                    map[k * plane + p] += Math.Abs(images[(int)i] - reconstructions[(int)i]) / channels;
                }
        return smoothing > 0 ? GaussianFilter.Apply(map, n, height, width, smoothing) : map;
    }

    /// <summary>The value below which <paramref name="percentile"/> % of <paramref name="scores"/> lie (linear interpolation).</summary>
    public static float Percentile(ReadOnlySpan<float> scores, double percentile)
    {
        if (scores.IsEmpty) throw new ArgumentException("percentile of no values");
        if (!(percentile >= 0 && percentile <= 100)) throw new ArgumentOutOfRangeException(nameof(percentile), $"percentile must be in [0, 100], found {percentile}");
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        double pos = percentile / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return (float)(sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>A 0/1 segmentation: 1 where the map is above its <paramref name="percentile"/>-th percentile (over all given maps).</summary>
    public static float[] Segment(ReadOnlySpan<float> map, double percentile) =>
        Metrics.Dice.Threshold(map, Percentile(map, percentile));
}
