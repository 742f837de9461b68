using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Samplers;

/// <summary>
/// Passes every call to the solver's denoiser and keeps a copy of the first x̂₀ of each step (the one at the step's
/// starting x and σ), for the step callback. Used only when a step callback is set, so runs without one are untouched.
/// </summary>
internal sealed class StepCapture : IDenoiser, IDisposable
{
    private readonly IDenoiser _inner;
    private bool _stepStarted;

    public StepCapture(IDenoiser inner, Shape shape)
    {
        _inner = inner;
        Denoised = inner.Backend.Allocate(shape);
    }

    /// <summary>x̂₀ of the current step's first evaluation.</summary>
    public Tensor Denoised { get; }

    public Backend Backend => _inner.Backend;
    public int[] SampleShape => _inner.SampleShape;
    public double SigmaMin => _inner.SigmaMin;
    public double SigmaMax => _inner.SigmaMax;
    public int Evaluations => _inner.Evaluations;

    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        _inner.Denoise(x, sigma, denoised);
        if (_stepStarted || denoised.Shape != Denoised.Shape) return;
        Backend.Copy(denoised, Denoised);
        _stepStarted = true;
    }

    /// <summary>The next evaluation starts a new step.</summary>
    public void NextStep() => _stepStarted = false;

    public void Dispose() => Denoised.Dispose();
}
