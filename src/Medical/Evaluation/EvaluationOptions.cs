using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Medical.Evaluation;

/// <summary>Settings of <see cref="MedicalEvaluation.Run"/>; the defaults are the documented run.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Test phantoms per set (indices from <see cref="MedicalEvaluation.TestFirstIndex"/>).</summary>
    public int Images { get; init; } = 16;
    /// <summary>Validation phantoms for tuning baselines and the anomaly threshold (indices from <see cref="MedicalEvaluation.ValidationFirstIndex"/>).</summary>
    public int ValidationImages { get; init; } = 8;
    /// <summary>MRI mask seeds 0 … S−1 (validation masks use seeds from 1000).</summary>
    public int MaskSeeds { get; init; } = 3;
    /// <summary>MRI mask kind: random or equispaced.</summary>
    public string MaskType { get; init; } = "random";
    /// <summary>MRI accelerations of the tables (exactly H/R rows each).</summary>
    public IReadOnlyList<int> Accelerations { get; init; } = [4, 8];
    /// <summary>Run the wavelet ℓ1 baseline in the MRI table (its λ search is the slowest part of the table).</summary>
    public bool WaveletBaseline { get; init; } = true;
    /// <summary>Steps of every diffusion method's grid.</summary>
    public int Steps { get; init; } = 50;
    /// <summary>The MRI diffusion methods of the main table.</summary>
    public IReadOnlyList<ReconstructionMethod> MriMethods { get; init; } = [ReconstructionMethod.Ddnm, ReconstructionMethod.TimeTravel];
    /// <summary>The method of the pathology, out-of-distribution, uncertainty and oracle tables.</summary>
    public ReconstructionMethod MainMethod { get; init; } = ReconstructionMethod.TimeTravel;
    /// <summary>Time travel: steps per jump and passes.</summary>
    public int JumpLength { get; init; } = 5;
    /// <summary>Time travel: passes over each jump.</summary>
    public int JumpCount { get; init; } = 2;
    /// <summary>Posterior samples K of the uncertainty table (0: skip it).</summary>
    public int PosteriorSamples { get; init; } = 4;
    /// <summary>Step counts of the quality-vs-NFE study (empty: skip it).</summary>
    public IReadOnlyList<int> StudySteps { get; init; } = [10, 25, 50, 100];
    /// <summary>Images of the quality-vs-NFE study.</summary>
    public int StudyImages { get; init; } = 8;
    /// <summary>Largest iteration count of the iterative baselines (they stop earlier at relative change &lt; <see cref="Tolerance"/>).</summary>
    public int BaselineMaxIterations { get; init; } = 20_000;
    /// <summary>Convergence tolerance of the iterative baselines.</summary>
    public double Tolerance { get; init; } = 1e-5;
    /// <summary>Steps of the anomaly reconstruction.</summary>
    public int AnomalySteps { get; init; } = 20;
    /// <summary>The image-conditioned segmentation model (image → lesion mask) of the segment table; without it the table is left out with a note.</summary>
    public DiffusionModel? SegmentationModel { get; init; }
    /// <summary>The image-conditioned translation model (contrast A → B) of the translate table; without it the table is left out with a note.</summary>
    public DiffusionModel? TranslationModel { get; init; }
    /// <summary>Samples per image K of the segment and translate tables.</summary>
    public int ConditionalSamples { get; init; } = 8;
    /// <summary>Solver steps of the segment and translate tables.</summary>
    public int ConditionalSteps { get; init; } = 20;

    /// <summary>Which tables to make: mri, pathology, ood, uncertainty, oracle, study, inpaint, superres, denoise, anomaly, segment, translate.</summary>
    public IReadOnlySet<string> Tasks { get; init; } = new HashSet<string>(AllTasks);
    /// <summary>Seed of noise and sampling.</summary>
    public ulong Seed { get; init; }
    /// <summary>Stops the run.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Every table name.</summary>
    public static readonly string[] AllTasks = ["mri", "pathology", "ood", "uncertainty", "oracle", "study", "inpaint", "superres", "denoise", "anomaly", "segment", "translate"];
}
