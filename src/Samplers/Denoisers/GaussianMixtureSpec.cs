using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// A Gaussian-mixture model in a JSON file (<c>--model gmm:spec.json</c>):
/// <c>{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-1, [per-pixel…]], "stds": [0.2, 0.5]}</c> plus, optionally,
/// diffusers scheduler keys (num_train_timesteps, beta_schedule, beta_start, beta_end) that fix the σ range.
/// </summary>
public static class GaussianMixtureSpec
{
    public static (GaussianMixtureDenoiser Denoiser, SchedulerConfig Schedule) Load(string path, Backend backend)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"gaussian mixture spec not found: {path}", path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        ArgumentException Bad(string m) => new($"{path}: {m}");
        int[] shape = root.TryGetProperty("shape", out var s) ? s.EnumerateArray().Select(v => v.GetInt32()).ToArray() : throw Bad("missing 'shape'");
        double[] weights = root.TryGetProperty("weights", out var w) ? w.EnumerateArray().Select(v => v.GetDouble()).ToArray() : throw Bad("missing 'weights'");
        double[] stds = root.TryGetProperty("stds", out var sd) ? sd.EnumerateArray().Select(v => v.GetDouble()).ToArray() : throw Bad("missing 'stds'");
        if (!root.TryGetProperty("means", out var m)) throw Bad("missing 'means'");
        var means = m.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => (float)x.GetDouble()).ToArray() : [(float)v.GetDouble()]).ToArray();
        var schedule = SchedulerConfig.FromJson(root, path);
        var discrete = schedule.CreateSchedule();
        return (new GaussianMixtureDenoiser(backend, shape, weights, means, stds, discrete.SigmaMin, discrete.SigmaMax), schedule);
    }
}
