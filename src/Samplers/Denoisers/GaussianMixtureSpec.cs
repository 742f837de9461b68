using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// A Gaussian-mixture model in a JSON file (<c>--model gmm:spec.json</c>):
/// <c>{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-1, [per-pixel…]], "stds": [0.2, 0.5]}</c> plus, optionally,
/// diffusers scheduler keys (num_train_timesteps, beta_schedule, beta_start, beta_end) that fix the σ range.
/// </summary>
public static class GaussianMixtureSpec
{
    /// <summary>Largest number of elements in one sample accepted (a 4096×4096 image).</summary>
    public const long MaxSampleElements = 1 << 24;

    /// <summary>Reads the spec at <paramref name="path"/>: the mixture's denoiser on <paramref name="backend"/> and the schedule keys it carries.</summary>
    /// <exception cref="ModelFormatException">The file is malformed or out of bounds; the message names the file and key.</exception>
    public static (GaussianMixtureDenoiser Denoiser, SchedulerConfig Schedule) Load(string path, Backend backend)
    {
        var p = ConfigReader.Load(path, "gaussian mixture spec");
        var root = p.Root;
        ModelFormatException Bad(string m) => new($"{path}: {m}");
        int[] shape = p.Has("shape") ? p.Ints("shape", [], 1, int.MaxValue) : throw Bad("missing 'shape'");
        if (shape.Length is < 1 or > 4) throw Bad($"'shape' must have 1 to 4 dimensions, found {Shape.Format(shape)}");
        long dimension = MemoryBudget.Elements($"{path}: a sample of shape {Shape.Format(shape)}", [.. shape.Select(d => (long)d)]);
        if (dimension > MaxSampleElements) throw Bad($"'shape' {Shape.Format(shape)} has {dimension:N0} elements per sample, more than the {MaxSampleElements:N0} supported");
        double[] weights = p.Doubles("weights") ?? throw Bad("missing 'weights'");
        double[] stds = p.Doubles("stds") ?? throw Bad("missing 'stds'");
        if (!root.TryGetProperty("means", out var m) || m.ValueKind != JsonValueKind.Array) throw Bad("missing 'means' (a list with one number or one per-element list per component)");
        var means = m.EnumerateArray().Select(v => v.ValueKind switch
        {
            JsonValueKind.Array => v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && float.IsFinite((float)x.GetDouble()) ? (float)x.GetDouble() : throw Bad($"'means' holds {x.GetRawText()}, not a finite number")).ToArray(),
            JsonValueKind.Number when float.IsFinite((float)v.GetDouble()) => [(float)v.GetDouble()],
            _ => throw Bad($"'means' holds {v.GetRawText()}, not a number or a list of numbers"),
        }).ToArray();
        var schedule = SchedulerConfig.From(p);
        var discrete = schedule.CreateSchedule();
        MemoryBudget.EnsureHost($"{path}: {means.Length} component means of {dimension:N0} values", MemoryBudget.Elements(path, means.Length, dimension, sizeof(float)));
        try
        {
            return (new GaussianMixtureDenoiser(backend, shape, weights, means, stds, discrete.SigmaMin, discrete.SigmaMax), schedule);
        }
        catch (ArgumentException e)
        {
            // Inconsistent weights, means and stds read from the file make a malformed spec.
            throw Bad(e.Message);
        }
    }
}
