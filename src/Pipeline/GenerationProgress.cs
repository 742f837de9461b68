namespace DiffusionKernels;

/// <summary>Where a <see cref="DiffusionPipeline.Generate"/> run stands, reported after every step through <see cref="IProgress{T}"/>.</summary>
/// <param name="SamplesDone">Samples finished before the current batch.</param>
/// <param name="Samples">Samples requested.</param>
/// <param name="Step">The 0-based step of the current batch just taken.</param>
/// <param name="Steps">Steps per batch.</param>
/// <param name="Sigma">The noise level the step started from.</param>
/// <param name="NextSigma">The noise level the step went to.</param>
/// <param name="Evaluations">Network evaluations of the model so far (NFE, counted over the model's lifetime).</param>
/// <param name="StepsDone">Steps taken in the whole run, this one included.</param>
/// <param name="TotalSteps">Steps the whole run takes (all batches).</param>
public readonly record struct GenerationProgress(int SamplesDone, int Samples, int Step, int Steps, double Sigma, double NextSigma, int Evaluations, long StepsDone, long TotalSteps)
{
    /// <summary>The fraction of the run done, in [0, 1].</summary>
    public double Fraction => TotalSteps == 0 ? 1 : Math.Min(1.0, (double)StepsDone / TotalSteps);
}
