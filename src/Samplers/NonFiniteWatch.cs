using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers;

/// <summary>
/// The NaN/Inf check of a sampling loop, without a host copy per step: each step queues a device-side flag update
/// (<see cref="Backend.FlagNonFinite"/>, the first step at which each sample went non-finite), and the flags are read
/// every <see cref="Interval"/> steps and after the last one. A failing run therefore stops up to that many steps
/// late, and the error still names the step that produced the NaN.
/// </summary>
internal sealed class NonFiniteWatch : IDisposable
{
    /// <summary>Steps between two reads of the flags (the last step is always read).</summary>
    public const int Interval = 8;

    private readonly Backend _backend;
    private readonly string _loop;
    private readonly long _firstSampleIndex;
    private readonly Tensor _firstNonFiniteStep;
    private readonly long[] _firstNonFiniteHost;
    private readonly Dictionary<int, (int Steps, double Sigma, double Next)> _stepSigmas = [];
    private readonly bool _readAfterRun;

    /// <summary>
    /// Flags for <paramref name="batch"/> samples, numbered from <paramref name="firstSampleIndex"/> in errors; <paramref name="loop"/>
    /// names the loop ("sampling", a scheduler's class name). With <paramref name="scratch"/> (a loop captured as a graph)
    /// the flags are that pool's tensor, reset by a queued upload, and read only after the run (<see cref="ReadAfterRun"/>),
    /// since a captured region cannot wait for the device.
    /// </summary>
    public NonFiniteWatch(Backend backend, int batch, long firstSampleIndex, string loop, RunScratch? scratch = null)
    {
        _backend = backend;
        _loop = loop;
        _firstSampleIndex = firstSampleIndex;
        _firstNonFiniteHost = new long[batch];
        Array.Fill(_firstNonFiniteHost, long.MaxValue);
        _readAfterRun = scratch is not null;
        if (scratch is null) _firstNonFiniteStep = backend.Upload(_firstNonFiniteHost, new Shape(batch));
        else
        {
            _firstNonFiniteStep = scratch.Take(new Shape(batch), DType.Int64);
            backend.CopyFromHost(_firstNonFiniteHost, _firstNonFiniteStep);
        }
    }

    /// <summary>Flags the samples of <paramref name="x"/> that step <paramref name="i"/> made non-finite; reads the flags when due.</summary>
    public void AfterStep(Tensor x, int i, int steps, double sigma, double next)
    {
        _backend.FlagNonFinite(x, _firstNonFiniteStep, i);
        _stepSigmas[i] = (steps, sigma, next);
        if (!_readAfterRun && ((i + 1) % Interval == 0 || i + 1 >= steps)) ThrowIfNonFinite(_firstSampleIndex);
    }

    /// <summary>
    /// Reads the flags once the run (or a replay of its graph, whose first sample is <paramref name="firstSampleIndex"/>)
    /// has been queued, and throws naming the step and sample that went non-finite first, if any did.
    /// </summary>
    public void ReadAfterRun(long firstSampleIndex) => ThrowIfNonFinite(firstSampleIndex);

    /// <summary>Reads the flags and throws, naming the first step and sample that went non-finite, if any did.</summary>
    private void ThrowIfNonFinite(long firstSampleIndex)
    {
        _backend.CopyToHost(_firstNonFiniteStep, _firstNonFiniteHost);
        int worst = -1;
        for (int n = 0; n < _firstNonFiniteHost.Length; n++)
            if (_firstNonFiniteHost[n] != long.MaxValue && (worst < 0 || _firstNonFiniteHost[n] < _firstNonFiniteHost[worst])) worst = n;
        if (worst < 0) return;
        int step = (int)_firstNonFiniteHost[worst];
        var (steps, sigma, next) = _stepSigmas[step];
        throw new NumericalInstabilityException(
            $"{_loop}: step {step + 1} of {steps} (σ {sigma:G4} → {next:G4}) produced NaN/Inf values in sample {firstSampleIndex + worst}");
    }

    public void Dispose()
    {
        if (!_readAfterRun) _firstNonFiniteStep.Dispose(); // a pool's tensor stays with the pool
    }
}
