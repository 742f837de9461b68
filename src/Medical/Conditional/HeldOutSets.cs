using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Medical.Phantoms;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>
/// The phantom sets the segmentation and translation results are measured on: test sets from
/// <see cref="MedicalEvaluation.TestFirstIndex"/>, validation sets (thresholds, baseline tuning and fitting) from
/// <see cref="MedicalEvaluation.ValidationFirstIndex"/>, both far from the training indices (below 10⁹).
/// </summary>
public static class HeldOutSets
{
    /// <summary>Lesion phantoms (<see cref="LesionSpec.Standard"/>: 1–3 bright lesions) and their masks, <paramref name="n"/> from <paramref name="first"/>.</summary>
    public static LabelledImages LesionPhantoms(int n, int size, long first)
    {
        var (images, masks) = HeadPhantom.GenerateBatch(n, size, 0, LesionSpec.Standard, first);
        return new LabelledImages(images, masks!, n, size, size);
    }

    /// <summary>Phantoms in contrast A and B (<see cref="SecondContrast"/>, no lesions), <paramref name="n"/> from <paramref name="first"/>.</summary>
    public static ImagePairs ContrastPairs(int n, int size, long first)
    {
        var (a, b, _) = SecondContrast.GenerateBatch(n, size, 0, null, first);
        return new ImagePairs(a, b, n, 1, size, size);
    }
}
