using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Per-sample Euclidean norms ‖v_b‖ = √(n·(std² + mean²)) from the backend's per-sample reductions; only B scalars
/// come to the host (for the Langevin step sizes).
/// </summary>
internal sealed class SampleNorms(Backend backend, int batch, long perSample) : IDisposable
{
    private readonly Tensor _stats = backend.Allocate(batch);
    private readonly float[] _mean = new float[batch], _std = new float[batch];

    public double[] Of(Tensor v)
    {
        backend.Reduce(v, _stats, Reduction.Mean);
        backend.CopyToHost(_stats, _mean);
        backend.Reduce(v, _stats, Reduction.Std);
        backend.CopyToHost(_stats, _std);
        return _mean.Select((m, b) => Math.Sqrt(perSample * ((double)_std[b] * _std[b] + (double)m * m))).ToArray();
    }

    public void Dispose() => _stats.Dispose();
}
