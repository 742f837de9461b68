namespace DiffusionKernels;

/// <summary>
/// A step callback asked to stop (<see cref="StepState.Stop"/>): thrown out of a solver or scheduler loop after the step,
/// with x as the step left it. <c>SampleRunner</c> and <c>DiffusionPipeline</c> catch it and return the samples so far;
/// code that runs a solver itself sees it as a cancellation.
/// </summary>
public sealed class SamplingStoppedException : OperationCanceledException
{
    /// <summary>A stop after step <paramref name="step"/> (0-based).</summary>
    public SamplingStoppedException(int step) : base($"a step callback stopped the run after step {step}") => Step = step;

    /// <summary>The 0-based index of the last step taken.</summary>
    public int Step { get; }
}
