using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels;

/// <summary>
/// The samples of a <see cref="DiffusionPipeline.Generate"/> run on the host, [N, ..sample shape] in the model's range
/// (images in [−1, 1]), with what ran and how long it took.
/// </summary>
/// <remarks>Thread safety: immutable apart from the <see cref="Samples"/> array, which belongs to the caller.</remarks>
public sealed class GenerationResult
{
    internal GenerationResult(float[] samples, int[] shape, string sampler, int evaluations, TimeSpan elapsed, bool stopped, double startSigma, int batchSize, string device)
    {
        Samples = samples;
        Shape = shape;
        Sampler = sampler;
        Evaluations = evaluations;
        Elapsed = elapsed;
        Stopped = stopped;
        StartSigma = startSigma;
        BatchSize = batchSize;
        Device = device;
    }

    /// <summary>The samples, [<see cref="Count"/>, ..sample shape] flattened.</summary>
    public float[] Samples { get; }
    /// <summary>The shape of <see cref="Samples"/>: [N, C, H, W] for images.</summary>
    public int[] Shape { get; }
    /// <summary>Samples drawn (fewer than requested when a step callback stopped the run).</summary>
    public int Count => Shape[0];
    /// <summary>Values per sample.</summary>
    public int SampleLength => Shape.Skip(1).Aggregate(1, (a, b) => a * b);
    /// <summary>The sampler that ran: a solver's registry name, or <c>diffusers ClassName</c>.</summary>
    public string Sampler { get; }
    /// <summary>Network evaluations the run took (NFE).</summary>
    public int Evaluations { get; }
    /// <summary>Wall time of the sampling (the device synchronized).</summary>
    public TimeSpan Elapsed { get; }
    /// <summary>Whether a step callback stopped the run early.</summary>
    public bool Stopped { get; }
    /// <summary>The noise level sampling started from (below σ_max for img2img).</summary>
    public double StartSigma { get; }
    /// <summary>Samples per network call.</summary>
    public int BatchSize { get; }
    /// <summary>The backend that ran the samples.</summary>
    public string Device { get; }

    /// <summary>A copy of sample <paramref name="index"/>.</summary>
    public float[] Sample(int index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), $"sample {index} of {Count}");
        return Samples.AsSpan(index * SampleLength, SampleLength).ToArray();
    }

    /// <summary>
    /// Saves the samples by the file's extension: <c>.npy</c> holds all of them as float32 [N, ..sample shape];
    /// <c>.png</c> shows the one sample, or a grid of them (images mapped from [−1, 1]). Written atomically.
    /// </summary>
    /// <exception cref="ArgumentException">The extension is neither, or a PNG is asked of samples that are not images [N, C, H, W].</exception>
    public void Save(string path)
    {
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".npy":
                Npy.Write(path, Samples, Shape);
                break;
            case ".png" when Count == 1:
                SampleImages.SavePng(path, Samples, Shape, 0);
                break;
            case ".png":
                SampleImages.SaveGrid(path, Samples, Shape);
                break;
            default:
                throw new ArgumentException($"{path}: samples save as .npy or .png", nameof(path));
        }
    }

    /// <summary>Saves sample <paramref name="index"/> as a PNG, mapped from [−1, 1]; written atomically.</summary>
    /// <exception cref="ArgumentException">The samples are not images [N, C, H, W], or the index is out of range.</exception>
    public void SavePng(string path, int index) => SampleImages.SavePng(path, Samples, Shape, index);
}
