using DiffusionKernels.Runtime;

namespace DiffusionKernels;

/// <summary>
/// One batch's state after a sampling step, handed to a per-step callback (<see cref="Samplers.SamplerOptions.OnStep"/>,
/// <c>GenerationRequest.OnStep</c>): the step, its noise levels and timestep, the current x and the denoiser's x̂₀.
/// The callback may read x and x̂₀ (as device tensors or host copies), edit x to steer the rest of the run (k-diffusion's
/// callback, diffusers' <c>callback_on_step_end</c> with the latents), or <see cref="Stop"/> the run.
/// </summary>
/// <remarks>
/// The tensors are the run's own buffers: valid only during the callback (or, for an app that steps the run itself, until
/// its next step), and x̂₀ must not be written. The batch may hold
/// padding rows past the last requested sample (the last batch of a run is padded to the batch size).
/// Thread safety: used by the sampling thread during the callback only.
/// </remarks>
public sealed class StepState
{
    internal StepState(int step, int steps, double sigma, double nextSigma, double timestep, int evaluations, long firstSample, Tensor x, Tensor? denoised)
    {
        Step = step;
        Steps = steps;
        Sigma = sigma;
        NextSigma = nextSigma;
        Timestep = timestep;
        Evaluations = evaluations;
        FirstSample = firstSample;
        X = x;
        Denoised = denoised;
    }

    /// <summary>The 0-based index of the step just taken.</summary>
    public int Step { get; }
    /// <summary>Steps in this batch's run.</summary>
    public int Steps { get; }
    /// <summary>The noise level σ the step started from.</summary>
    public double Sigma { get; }
    /// <summary>The noise level σ the step went to (the level <see cref="X"/> is at now).</summary>
    public double NextSigma { get; }
    /// <summary>The network timestep of <see cref="Sigma"/> (a diffusers scheduler's own timestep on that path; NaN where the model has none).</summary>
    public double Timestep { get; }
    /// <summary>Network evaluations so far (NFE).</summary>
    public int Evaluations { get; }
    /// <summary>Index, in the whole run, of the batch's first sample.</summary>
    public long FirstSample { get; }
    /// <summary>Samples in the batch (rows of <see cref="X"/>).</summary>
    public int BatchSize => X.Shape[0];
    /// <summary>The batch's current x on the device, [batch, ..sample shape]; writing it changes the rest of the run.</summary>
    public Tensor X { get; }
    /// <summary>
    /// The denoiser's x̂₀ for the x the step started from (its first evaluation of the step, k-diffusion's <c>denoised</c>),
    /// on the device; null on a diffusers scheduler's path, whose x̂₀ stays inside the scheduler step. Read only.
    /// </summary>
    public Tensor? Denoised { get; }
    /// <summary>Whether the callback asked to stop.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>A host copy of <see cref="X"/>.</summary>
    public float[] CopyX() => X.ToArray();

    /// <summary>A host copy of <see cref="Denoised"/>, or null where there is none.</summary>
    public float[]? CopyDenoised() => Denoised?.ToArray();

    /// <summary>Replaces x with <paramref name="values"/> (the whole batch, as <see cref="CopyX"/> gives it).</summary>
    /// <exception cref="ArgumentException">The length is not the batch's.</exception>
    public void SetX(ReadOnlySpan<float> values)
    {
        if (values.Length != X.Length) throw new ArgumentException($"x holds {X.Length} values ({X.Shape}), found {values.Length}", nameof(values));
        X.Backend.CopyFromHost(values, X);
    }

    /// <summary>
    /// Ends the run after this step: the samples drawn so far (this batch as it stands now) are the result, and later
    /// batches are not run.
    /// </summary>
    public void Stop() => StopRequested = true;
}
