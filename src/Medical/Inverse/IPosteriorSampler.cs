using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// A reconstruction method that samples x₀ given a linear measurement, driven by a <see cref="DataConsistencyDenoiser"/>
/// over a σ grid; it leaves x data-consistent (<see cref="DataConsistencyDenoiser.Finalize"/>).
/// </summary>
/// <remarks>Thread safety: the samplers here are immutable settings; a run's state lives in its <see cref="SamplerContext"/> and denoiser, which serve one run at a time.</remarks>
public interface IPosteriorSampler
{
    /// <summary>Short name for tables, e.g. "DDNM (ddpm)".</summary>
    string Name { get; }

    /// <summary>Denoiser evaluations per batch for a grid of <paramref name="steps"/> steps.</summary>
    int Evaluations(int steps);

    /// <summary>Runs over <paramref name="sigmas"/> (decreasing, ending at 0) with x entering as σ₀·noise.</summary>
    void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx);
}

/// <summary>DDNM (Wang et al. 2023): any solver run on the data-consistent denoiser, then the final projection.</summary>
public sealed class DdnmSampler(Solver solver) : IPosteriorSampler
{
    /// <summary>The solver that runs the reverse process.</summary>
    public Solver Solver { get; } = solver ?? throw new ArgumentNullException(nameof(solver));

    /// <inheritdoc />
    public string Name => $"DDNM ({Solver.Name})";

    /// <inheritdoc />
    public int Evaluations(int steps) => steps * Solver.EvaluationsPerStep;

    /// <inheritdoc />
    public void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(dc);
        ArgumentNullException.ThrowIfNull(ctx);
        if (!ReferenceEquals(ctx.Denoiser, dc)) throw new ArgumentException("DDNM: the sampler context must be built on the data-consistency denoiser");
        Solver.Sample(x, sigmas, ctx);
        dc.Finalize(x);
    }
}

/// <summary><see cref="TimeTravel"/> as a posterior sampler.</summary>
public sealed class TimeTravelSampler(TimeTravel method) : IPosteriorSampler
{
    /// <summary>The time-travel settings.</summary>
    public TimeTravel Method { get; } = method ?? throw new ArgumentNullException(nameof(method));

    /// <inheritdoc />
    public string Name => $"DDNM time travel (l={Method.JumpLength}, r={Method.JumpCount})";

    /// <inheritdoc />
    public int Evaluations(int steps) => Method.Evaluations(steps);

    /// <inheritdoc />
    public void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx) => Method.Sample(x, dc, sigmas, ctx);
}

/// <summary><see cref="ScoreMriPc"/> as a posterior sampler.</summary>
public sealed class PredictorCorrectorSampler(ScoreMriPc method) : IPosteriorSampler
{
    /// <summary>The predictor–corrector settings.</summary>
    public ScoreMriPc Method { get; } = method ?? throw new ArgumentNullException(nameof(method));

    /// <inheritdoc />
    public string Name => $"score-MRI PC (snr={Method.Snr:G3}, {Method.CorrectorSteps} corrector)";

    /// <inheritdoc />
    public int Evaluations(int steps) => Method.Evaluations(steps);

    /// <inheritdoc />
    public void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx) => Method.Sample(x, dc, sigmas, ctx);
}
